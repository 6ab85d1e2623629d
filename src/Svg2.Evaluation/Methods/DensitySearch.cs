using Svg2.Algorithm;

namespace Svg2.Evaluation.Methods;

/// <summary>
/// Finds the budget parameter of a prepared method whose mean density over all heads matches a
/// target, by <see cref="DensityBisection"/> (density grows with the parameter). Planning is cheap: no attention runs.
/// </summary>
public static class DensitySearch
{
    /// <summary>The outcome: the parameter, its pattern, the mean density reached and whether it is within tolerance.</summary>
    public sealed record Result(double Parameter, ISparsityPattern Pattern, double Density, bool WithinTolerance);

    /// <summary>Searches the parameter for <paramref name="targetDensity"/> in (0, 1].</summary>
    public static Result Find(IPreparedAttention prepared, double targetDensity)
    {
        var (low, high) = prepared.ParameterRange;
        ISparsityPattern? bestPattern = null;
        double bestGap = double.PositiveInfinity;
        // The bisection keeps the best parameter; the pattern planned for it is kept here, the others disposed.
        double PlanAndMeasure(double parameter)
        {
            var pattern = prepared.Plan(parameter);
            double density = DensityBisection.MeanDensity(pattern);
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
        var best = DensityBisection.Bisect(PlanAndMeasure, low, high, targetDensity, prepared.ParameterName is null ? 1 : DensityBisection.DefaultMaxSteps);
        return new Result(best.Parameter, bestPattern!, best.Density, best.WithinTolerance);
    }
}
