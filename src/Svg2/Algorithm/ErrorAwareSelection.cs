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
        long kept = Math.Min(keyClusters, Math.Max(1, rule.MinimumKept(keyClusters)));
        // The kept best of a stable descending sort, without the sort: every score above the kept-th largest,
        // then the scores equal to it in cluster order until the count is reached (a selection, not a sort of KC).
        var kth = scores.topk((int)kept, dim: -1, largest: true, sorted: false).values.amin([-1], keepdim: true);
        var above = scores > kth;
        var tied = scores == kth;
        var room = kept - above.sum(-1, keepdim: true);
        var forced = above | (tied & (tied.cumsum(-1) <= room));
        return (forced | (scores >= rule.Threshold)).MoveToOuterDisposeScope();
    }
}
