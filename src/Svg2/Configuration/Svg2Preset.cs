namespace Svg2.Configuration;

/// <summary>
/// One of the reference implementation's run configurations: the model's geometry, the SVG2 options
/// (its cluster counts from the geometry), the dense warm-up and the sampling schedule.
/// </summary>
/// <param name="Name">Preset name used on the command line.</param>
/// <param name="Geometry">Heads, head dimension, token grid, text rows and the reference's cluster counts.</param>
/// <param name="Steps">Denoising steps.</param>
/// <param name="Options">SVG2 operator options.</param>
/// <param name="Warmup">Dense warm-up policy.</param>
/// <param name="GuidancePasses">Transformer passes per step: 2 for classifier-free guidance, 1 when guidance is embedded.</param>
/// <param name="GuidanceScale">Guidance scale.</param>
public sealed record Svg2Preset(
    string Name,
    ModelGeometry Geometry,
    int Steps,
    Svg2Options Options,
    DenseWarmupPolicy Warmup,
    int GuidancePasses,
    double GuidanceScale)
{
    /// <summary>Model, task and resolution.</summary>
    public string Description => Geometry.Description;
}
