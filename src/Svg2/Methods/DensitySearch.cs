using Svg2.Statistics;

namespace Svg2.Methods;

/// <summary>
/// Finds the budget parameter of a prepared method whose mean density over all heads matches a
/// target, by bisection (density grows with the parameter). Planning is cheap: no attention runs.
/// </summary>
public static class DensitySearch
{
    /// <summary>Relative tolerance on the achieved density.</summary>
    public const double RelativeTolerance = 0.01;

    const int MaxSteps = 60;

    /// <summary>The outcome: the parameter, its pattern, the mean density reached and whether it is within tolerance.</summary>
    public sealed record Result(double Parameter, ISparsityPattern Pattern, double Density, bool WithinTolerance);

    /// <summary>One evaluated parameter of a bisection: the mean density it gave and whether that is within tolerance.</summary>
    public readonly record struct Probe(double Parameter, double Density, bool WithinTolerance);

    /// <summary>Searches the parameter for <paramref name="targetDensity"/> in (0, 1].</summary>
    public static Result Find(IPreparedAttention prepared, double targetDensity)
    {
        RequireTarget(targetDensity);
        var (low, high) = prepared.ParameterRange;
        ISparsityPattern? bestPattern = null;
        double bestGap = double.PositiveInfinity;
        // The bisection keeps the best parameter; the pattern planned for it is kept here, the others disposed.
        double PlanAndMeasure(double parameter)
        {
            var pattern = prepared.Plan(parameter);
            double density = MeanDensity(pattern);
            double gap = Math.Abs(density - targetDensity);
            if (gap < bestGap)
            {
                (bestPattern as IDisposable)?.Dispose();
                (bestPattern, bestGap) = (pattern, gap);
            }
            else (pattern as IDisposable)?.Dispose();
            return density;
        }
        // A method without a parameter has one pattern: plan it once.
        var best = Bisect(PlanAndMeasure, low, high, targetDensity, prepared.ParameterName is null ? 1 : MaxSteps);
        return new Result(best.Parameter, bestPattern!, best.Density, best.WithinTolerance);
    }

    /// <summary>
    /// Bisection on a parameter whose mean density grows with it: tries <paramref name="high"/> first,
    /// then midpoints, and stops at the first density within <see cref="RelativeTolerance"/> of the
    /// target, when the interval vanishes, or after <paramref name="maxSteps"/> evaluations.
    /// </summary>
    /// <param name="meanDensityAt">The mean density at a parameter (usually a host read).</param>
    /// <param name="low">Lower end of the parameter range.</param>
    /// <param name="high">Upper end of the parameter range (the densest).</param>
    /// <param name="targetDensity">In (0, 1].</param>
    /// <param name="maxSteps">Evaluations at most (at least 1).</param>
    /// <returns>The evaluated parameter closest to the target (the first of equals).</returns>
    public static Probe Bisect(Func<double, double> meanDensityAt, double low, double high, double targetDensity, int maxSteps = MaxSteps)
    {
        RequireTarget(targetDensity);
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

    static void RequireTarget(double targetDensity)
    {
        if (!(targetDensity > 0 && targetDensity <= 1))
            throw new ArgumentException($"Target density must lie in (0, 1] (got {targetDensity}).");
    }

    /// <summary>The mean over groups of a pattern's density (a host read).</summary>
    public static double MeanDensity(ISparsityPattern pattern)
    {
        using var density = pattern.Density();
        return density.mean().cpu().item<double>();
    }
}
