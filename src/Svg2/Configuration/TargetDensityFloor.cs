namespace Svg2.Configuration;

/// <summary>
/// The fixed minimum of key clusters (or blocks) kept when attention is driven to a target density:
/// min(configured ratio, target / 2), so the minimum never decides the density by itself and the
/// budget (top-p or the error threshold) stays what is searched.
/// </summary>
public static class TargetDensityFloor
{
    /// <summary>The minimum kept ratio to use: <paramref name="configured"/> without a target, else min(configured, target / 2).</summary>
    /// <param name="configured">The configured minimum ratio (<see cref="Svg2Options.MinKeyClusterRatio"/>).</param>
    /// <param name="targetDensity">The target density, or null when none is set.</param>
    public static double MinimumRatio(double configured, double? targetDensity) =>
        targetDensity is { } target ? Math.Min(configured, target / 2) : configured;
}
