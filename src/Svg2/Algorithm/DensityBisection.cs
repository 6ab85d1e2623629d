namespace Svg2.Algorithm;

/// <summary>
/// Bisection of a budget parameter whose mean density grows with it: how the operator turns a
/// target density into a top-p (or an error-routing level) on a layer's first call, and how a
/// compared method is driven to a density.
/// </summary>
public static class DensityBisection
{
    /// <summary>Relative tolerance on the achieved density.</summary>
    public const double RelativeTolerance = 0.01;

    /// <summary>Evaluations at most when the caller gives no limit.</summary>
    public const int DefaultMaxSteps = 60;

    /// <summary>One evaluated parameter of a bisection: the mean density it gave and whether that is within tolerance.</summary>
    public readonly record struct Probe(double Parameter, double Density, bool WithinTolerance);

    /// <summary>
    /// Tries <paramref name="high"/> first, then midpoints, and stops at the first density within
    /// <see cref="RelativeTolerance"/> of the target, when the interval vanishes, or after
    /// <paramref name="maxSteps"/> evaluations.
    /// </summary>
    /// <param name="meanDensityAt">The mean density at a parameter (usually a host read).</param>
    /// <param name="low">Lower end of the parameter range.</param>
    /// <param name="high">Upper end of the parameter range (the densest).</param>
    /// <param name="targetDensity">In (0, 1].</param>
    /// <param name="maxSteps">Evaluations at most (at least 1).</param>
    /// <returns>The evaluated parameter closest to the target (the first of equals).</returns>
    public static Probe Bisect(Func<double, double> meanDensityAt, double low, double high, double targetDensity, int maxSteps = DefaultMaxSteps)
    {
        if (!(targetDensity > 0 && targetDensity <= 1))
            throw new ArgumentException($"Target density must lie in (0, 1] (got {targetDensity}).");
        if (maxSteps < 1) throw new ArgumentException($"A bisection needs at least 1 step (got {maxSteps}).", nameof(maxSteps));
        Probe? best = null;
        for (int step = 0; step < maxSteps; step++)
        {
            double parameter = step == 0 ? high : (low + high) / 2;
            double density = meanDensityAt(parameter);
            double gap = Math.Abs(density - targetDensity);
            if (best is null || gap < Math.Abs(best.Value.Density - targetDensity))
                best = new Probe(parameter, density, gap <= RelativeTolerance * targetDensity);
            if (best.Value.WithinTolerance || high - low < 1e-9) break;
            if (step == 0) continue;
            if (density > targetDensity) high = parameter; else low = parameter;
        }
        return best!.Value;
    }

    /// <summary>The mean over groups of a pattern's density (a host read).</summary>
    public static double MeanDensity(ISparsityPattern pattern)
    {
        using var density = pattern.Density();
        return density.mean().cpu().item<double>();
    }
}
