using System.Diagnostics;
using Svg2.Algorithm;
using Svg2.Evaluation.Statistics;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Methods;

/// <summary>
/// Runs a method on [G, S, D] inputs at a parameter or at a target density, times its phases and
/// measures its quality against dense attention.
/// </summary>
public static class MethodRunner
{
    /// <summary>How the budget is chosen.</summary>
    /// <param name="Parameter">Use this parameter value (ignored when <paramref name="TargetDensity"/> is set).</param>
    /// <param name="TargetDensity">Search the parameter until the mean density matches this.</param>
    public readonly record struct Budget(double? Parameter = null, double? TargetDensity = null);

    /// <summary>Runs <paramref name="method"/> once and returns its measurement and output [G, S, D].</summary>
    /// <param name="method">The method.</param>
    /// <param name="q">[G, S, D].</param>
    /// <param name="k">[G, S, D].</param>
    /// <param name="v">[G, S, D].</param>
    /// <param name="budget">Parameter or target density; neither means the method's largest parameter.</param>
    /// <param name="qualitySampleRows">Measure quality on this many seeded rows; null for all.</param>
    public static (MethodMeasurement Measurement, Tensor Output) Run(IAttentionMethod method, Tensor q, Tensor k, Tensor v, Budget budget, long? qualitySampleRows = null)
    {
        var clock = Stopwatch.StartNew();
        using var prepared = method.Prepare(q, k, v);
        return Run(method.Name, prepared, Lap(clock, q), q, k, v, budget, qualitySampleRows);
    }

    /// <summary>
    /// Runs an already prepared method (so several budgets can share one preparation, such as one
    /// k-means clustering); <paramref name="prepareMilliseconds"/> is reported as its preparation time.
    /// </summary>
    public static (MethodMeasurement Measurement, Tensor Output) Run(string name, IPreparedAttention prepared, double prepareMilliseconds,
        Tensor q, Tensor k, Tensor v, Budget budget, long? qualitySampleRows = null)
    {
        var clock = Stopwatch.StartNew();
        ISparsityPattern pattern;
        double parameter;
        double plan;
        if (budget.TargetDensity is { } target)
        {
            var found = DensitySearch.Find(prepared, target);
            (pattern, parameter) = (found.Pattern, found.Parameter);
            clock.Restart();
            using ((prepared.Plan(parameter) as IDisposable)) plan = Lap(clock, q);
        }
        else
        {
            parameter = budget.Parameter ?? prepared.ParameterRange.Max;
            clock.Restart();
            pattern = prepared.Plan(parameter);
            plan = Lap(clock, q);
        }

        clock.Restart();
        var output = prepared.Attend(pattern);
        double attend = Lap(clock, q);

        using var density = pattern.Density();
        var quality = AttentionQuality.Measure(q, k, v, output, pattern, qualitySampleRows);
        double[]? floorShare = (pattern as BlockSparsity)?.FloorShare?.cpu().data<double>().ToArray();
        (pattern as IDisposable)?.Dispose();
        var measurement = new MethodMeasurement(name, prepared.ParameterName, parameter,
            density.cpu().data<double>().ToArray(), quality.Recall, quality.RelativeError, quality.RowsMeasured, prepareMilliseconds, plan, attend, floorShare);
        return (measurement, output);
    }

    static double Lap(Stopwatch clock, Tensor onDevice)
    {
        if (onDevice.device_type == TorchSharp.DeviceType.CUDA) cuda.synchronize(onDevice.device);
        return clock.Elapsed.TotalMilliseconds;
    }
}
