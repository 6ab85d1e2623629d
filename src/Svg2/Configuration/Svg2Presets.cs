namespace Svg2.Configuration;

/// <summary>
/// The reference configurations of the specification (its tables 3.3 and 3.4), by name, each on its
/// <see cref="ModelGeometry"/>.
/// </summary>
public static class Svg2Presets
{
    /// <summary>Wan 2.1 T2V 14B, 720x1280, 81 frames.</summary>
    public static Svg2Preset WanT2V720p { get; } = Create("wan-t2v-720p", ModelGeometries.Wan14B720p,
        steps: 50, stepFraction: 0.2, layerFraction: 0.03, zeroStepInit: false, passes: 2, guidance: 5.0);

    /// <summary>Wan 2.1 I2V 14B, square input at 720p (960x960), 81 frames.</summary>
    public static Svg2Preset WanI2V720p { get; } = Create("wan-i2v-720p", ModelGeometries.WanI2V720p,
        steps: 40, stepFraction: 0.35, layerFraction: 0.03, zeroStepInit: false, passes: 2, guidance: 5.0);

    /// <summary>Wan 2.1 I2V 14B, square input at 480p (624x624), 81 frames.</summary>
    public static Svg2Preset WanI2V480p { get; } = Create("wan-i2v-480p", ModelGeometries.WanI2V480p,
        steps: 40, stepFraction: 0.2, layerFraction: 0.03, zeroStepInit: true, passes: 2, guidance: 5.0);

    /// <summary>HunyuanVideo T2V 13B, 720x1280, 129 frames, 256 text rows.</summary>
    public static Svg2Preset Hunyuan720p { get; } = Create("hunyuan-720p", ModelGeometries.Hunyuan720p,
        steps: 50, stepFraction: 0.1, layerFraction: 0.03, zeroStepInit: true, passes: 1, guidance: 6.0);

    /// <summary>HunyuanVideo T2V 13B, 480x720, 129 frames, 256 text rows.</summary>
    public static Svg2Preset Hunyuan480p { get; } = Create("hunyuan-480p", ModelGeometries.Hunyuan480p,
        steps: 50, stepFraction: 0.04, layerFraction: 0.0, zeroStepInit: true, passes: 1, guidance: 6.0);

    /// <summary>Cosmos-1.0 Diffusion 14B Text2World, 704x1280, 121 frames.</summary>
    public static Svg2Preset Cosmos720p { get; } = Create("cosmos-720p", ModelGeometries.Cosmos720p,
        steps: 35, stepFraction: 0.3, layerFraction: 0.03, zeroStepInit: false, passes: 2, guidance: 7.0);

    /// <summary>Every preset, in the specification's order.</summary>
    public static IReadOnlyList<Svg2Preset> All { get; } = [WanT2V720p, WanI2V720p, WanI2V480p, Hunyuan720p, Hunyuan480p, Cosmos720p];

    /// <summary>The preset with this name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No preset has that name; the message lists the names.</exception>
    public static Svg2Preset Get(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown preset '{name}'. Known presets: {string.Join(", ", All.Select(p => p.Name))}.");

    static Svg2Preset Create(string name, ModelGeometry geometry, int steps, double stepFraction, double layerFraction, bool zeroStepInit,
        int passes, double guidance) =>
        new(name, geometry, steps,
            new Svg2Options
            {
                QueryClusters = geometry.QueryClusters, KeyClusters = geometry.KeyClusters, TopP = 0.9, MinKeyClusterRatio = 0.10,
                InitIterations = 50, StepIterations = 2,
            },
            DenseWarmupPolicy.FromFractions(stepFraction, steps, layerFraction, geometry.Layers, zeroStepInit),
            passes, guidance);
}
