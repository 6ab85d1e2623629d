namespace Svg2.Models.Schedulers;

/// <summary>The resolution shift of flow-matching noise levels: sigma' = s sigma / (1 + (s - 1) sigma).</summary>
public static class FlowShift
{
    /// <summary>Wan 2.1's default shift for text to video (generate.py's sample_shift).</summary>
    public const double WanDefault = 5.0;

    /// <summary>Applies the shift to one noise level.</summary>
    public static double Apply(double sigma, double shift)
    {
        if (!(shift > 0)) throw new ArgumentException($"Flow shift must be positive (got {shift}).");
        return shift * sigma / (1 + (shift - 1) * sigma);
    }
}
