using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>The blocks error-aware routing computes exactly, from the probe's scores.</summary>
public static class ErrorAwareSelection
{
    /// <summary>
    /// Keeps block (a, b) when its score reaches the threshold or when b ranks among the
    /// max(1, floor(ratio x KC)) best-scoring key clusters of a (ties by cluster id).
    /// </summary>
    /// <param name="scores">[G, QC, KC] float64 from <see cref="CompensationErrorProbe.Estimate"/>.</param>
    /// <param name="rule">Threshold and minimum.</param>
    /// <returns>[G, QC, KC] bool.</returns>
    public static Tensor Select(Tensor scores, ErrorRoutingRule rule)
    {
        if (scores.dim() != 3) throw new ArgumentException($"Routing scores must be [G, QC, KC]; got {TensorPredicates.Shape(scores)}.");
        if (!(rule.Threshold >= 0)) throw new ArgumentException($"The routing threshold must be at least 0 (got {rule.Threshold}).");
        using var scope = NewDisposeScope();
        long keyClusters = scores.shape[2];
        var order = scores.sort(-1, descending: true, stable: true).Indices;
        var rank = arange(keyClusters, ScalarType.Int64, scores.device);
        var forced = zeros_like(scores, ScalarType.Bool).scatter_(-1, order, (rank < Math.Max(1, rule.MinimumKept(keyClusters))).expand_as(order));
        return (forced | (scores >= rule.Threshold)).MoveToOuterDisposeScope();
    }
}
