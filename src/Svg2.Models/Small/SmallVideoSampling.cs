namespace Svg2.Models.Small;

/// <summary>How a small footage model samples by default: Wan's UniPC with these steps, guidance scale and flow shift.</summary>
/// <param name="Steps">Denoising steps.</param>
/// <param name="Guidance">Classifier-free guidance scale (source condition against the null condition).</param>
/// <param name="Shift">Flow shift of the noise levels; the shift the model's training timesteps were drawn with.</param>
public sealed record SmallVideoSampling(int Steps, double Guidance, double Shift)
{
    /// <summary>30 UniPC steps, guidance 3, shift 3.</summary>
    public static SmallVideoSampling Default { get; } = new(30, 3.0, 3.0);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"Step count must be at least 1 (got {Steps}).");
        if (!(Guidance >= 0) || double.IsInfinity(Guidance)) throw new ArgumentException($"Guidance scale must be a finite number >= 0 (got {Guidance}).");
        if (!(Shift > 0) || double.IsInfinity(Shift)) throw new ArgumentException($"Flow shift must be a finite positive number (got {Shift}).");
    }
}
