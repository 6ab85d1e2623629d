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

    /// <summary>Searches the parameter for <paramref name="targetDensity"/> in (0, 1].</summary>
    public static Result Find(IPreparedAttention prepared, double targetDensity)
    {
        if (!(targetDensity > 0 && targetDensity <= 1))
            throw new ArgumentException($"Target density must lie in (0, 1] (got {targetDensity}).");
        var (low, high) = prepared.ParameterRange;
        Result? best = null;
        for (int step = 0; step < MaxSteps; step++)
        {
            double parameter = step == 0 ? high : (low + high) / 2;
            var pattern = prepared.Plan(parameter);
            double density = MeanDensity(pattern);
            var candidate = new Result(parameter, pattern, density, Math.Abs(density - targetDensity) <= RelativeTolerance * targetDensity);
            if (best is null || Math.Abs(density - targetDensity) < Math.Abs(best.Density - targetDensity))
            {
                (best?.Pattern as IDisposable)?.Dispose();
                best = candidate;
            }
            else (pattern as IDisposable)?.Dispose();
            if (best.WithinTolerance || prepared.ParameterName is null || high - low < 1e-9) break;
            if (step == 0) continue;
            if (density > targetDensity) high = parameter; else low = parameter;
        }
        return best!;
    }

    /// <summary>The mean over groups of a pattern's density (a host read).</summary>
    public static double MeanDensity(ISparsityPattern pattern)
    {
        using var density = pattern.Density();
        return density.mean().cpu().item<double>();
    }
}
