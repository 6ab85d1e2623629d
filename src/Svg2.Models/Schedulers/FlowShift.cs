namespace Svg2.Models.Schedulers;

/// <summary>The resolution shift of flow-matching noise levels: sigma' = s sigma / (1 + (s - 1) sigma).</summary>
public static class FlowShift
{
    /// <summary>Wan 2.1's default shift for text to video (generate.py's sample_shift).</summary>
    public const double WanDefault = 5.0;

    /// <summary>Wan 2.1's shift for image to video at 480p (generate.py uses it for the 832*480 and 480*832 sizes).</summary>
    public const double WanImageToVideo480p = 3.0;

    /// <summary>
    /// generate.py's default shift for a size: <see cref="WanImageToVideo480p"/> for image to video at an area of
    /// 832 x 480 pixels, otherwise <paramref name="modelDefault"/>.
    /// </summary>
    public static double WanDefaultFor(bool imageToVideo, long area, double modelDefault) =>
        imageToVideo && area == 832 * 480 ? WanImageToVideo480p : modelDefault;

    /// <summary>Applies the shift to one noise level.</summary>
    public static double Apply(double sigma, double shift)
    {
        if (!(shift > 0)) throw new ArgumentException($"Flow shift must be positive (got {shift}).");
        return shift * sigma / (1 + (shift - 1) * sigma);
    }
}
