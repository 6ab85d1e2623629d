using Svg2.Algorithm;

namespace Svg2.Evaluation.Methods;

/// <summary>What one run of a method produced, per group (batch x head) and in total.</summary>
/// <param name="Method">Method name.</param>
/// <param name="ParameterName">Budget parameter's name, or null.</param>
/// <param name="Parameter">Budget parameter used.</param>
/// <param name="Density">[G] fraction of the score matrix computed.</param>
/// <param name="Recall">[G] mean share of exact attention mass on allowed keys.</param>
/// <param name="RelativeError">[G] ||O - O_dense|| / ||O_dense||.</param>
/// <param name="RowsMeasured">Query rows the quality figures cover.</param>
/// <param name="PrepareMilliseconds">Budget-independent preparation (clustering, block means).</param>
/// <param name="PlanMilliseconds">Selection at the chosen parameter (the density search, when there was one, excluded).</param>
/// <param name="AttendMilliseconds">The attention itself (permutation and inverse included).</param>
/// <param name="FloorShare">[G] share of query clusters (or blocks) whose kept key clusters the rule's fixed
/// minimum decided (<see cref="SelectionFloor"/>); null for methods without a minimum.</param>
public sealed record MethodMeasurement(
    string Method,
    string? ParameterName,
    double Parameter,
    double[] Density,
    double[] Recall,
    double[] RelativeError,
    long RowsMeasured,
    double PrepareMilliseconds,
    double PlanMilliseconds,
    double AttendMilliseconds,
    double[]? FloorShare = null)
{
    /// <summary>Mean density over groups.</summary>
    public double MeanDensity => Density.Average();

    /// <summary>Mean recall over groups.</summary>
    public double MeanRecall => Recall.Average();

    /// <summary>Mean relative error over groups.</summary>
    public double MeanRelativeError => RelativeError.Average();

    /// <summary>Mean over groups of the share of query clusters at the floor; null without a minimum.</summary>
    public double? MeanFloorShare => FloorShare?.Average();

    /// <summary>Preparation, planning and attention.</summary>
    public double TotalMilliseconds => PrepareMilliseconds + PlanMilliseconds + AttendMilliseconds;
}
