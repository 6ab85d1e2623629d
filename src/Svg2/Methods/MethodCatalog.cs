using Svg2.Attention;
using Svg2.Backends;
using Svg2.Configuration;

namespace Svg2.Methods;

/// <summary>The compared methods by name, configured alike.</summary>
public static class MethodCatalog
{
    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["svg2", "blocks", "window", "oracle", "dense"];

    /// <summary>
    /// The smallest share of key clusters (or blocks) kept when a method is driven to a target
    /// density: min(configured ratio, target / 2), so the fixed minimum never decides the density
    /// by itself and top_p stays the budget.
    /// </summary>
    public static double MinimumRatioFor(double configured, double? targetDensity) =>
        targetDensity is { } target ? Math.Min(configured, target / 2) : configured;

    /// <summary>Creates a method.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="options">SVG2 options; the position-block baseline shares their minimum ratio and selection rule.</param>
    /// <param name="grid">Token grid, for the local window.</param>
    /// <param name="text">Trailing text rows, for SVG2.</param>
    /// <param name="backend">Stage implementations for the block methods; the reference when null.</param>
    /// <param name="targetDensity">The density the method will be driven to, if any (see <see cref="MinimumRatioFor"/>).</param>
    /// <param name="state">SVG2's layer cache, to measure the warm-started steady state; null for a cold start.</param>
    public static IAttentionMethod Create(string name, Svg2Options options, TokenGrid grid, TextTokens? text = null, ISvg2Backend? backend = null,
        double? targetDensity = null, Svg2LayerState? state = null)
    {
        double ratio = MinimumRatioFor(options.MinKeyClusterRatio, targetDensity);
        return name.ToLowerInvariant() switch
        {
            "svg2" => new Svg2Method(options with { MinKeyClusterRatio = ratio }, backend, text, state),
            "blocks" => new PositionBlocksMethod(MinKeyBlockRatio: ratio, Backend: backend),
            "window" => new LocalWindowMethod(grid, backend),
            "oracle" => new TokenOracleMethod(),
            "dense" => new DenseMethod(),
            _ => throw new ArgumentException($"Unknown method '{name}'. Known methods: {string.Join(", ", Names)}."),
        };
    }
}
