using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// The light tail of per-row centroid compensation: the blocks whose size-weighted centroid weight is so
/// small that one term per query cluster approximates them as well as one key per row would, at none of
/// the per-row cost.
/// </summary>
/// <remarks>
/// Per-row compensation adds one key per skipped non-empty key cluster to every query row (about 850 at Wan
/// 720p and 15% density: 7% more attention work), yet with peaked attention most skipped clusters carry
/// almost no mass. Block (a, b) belongs to the tail when its weight w_ab = n_b exp(q̄_a . c_b scale) is below
/// τ / KC of the query cluster's total sum_b' w_ab' (the size-weighted centroid softmax SVG2's top-p rule
/// ranks by), so the tail of a query cluster holds at most the share τ of that mass whatever the number of
/// clusters, and no sort is needed. Tail blocks are still compensated, per query cluster
/// (<see cref="ClusterCompensationTerms"/>: the score of q̄_a instead of q_i); only the rows' own scores of
/// blocks that weigh almost nothing are given up. A non-finite weight is never in the tail, so a NaN mean
/// stays with the rows that compensate its cluster per row.
/// </remarks>
public static class CompensationTail
{
    /// <summary>
    /// [G, QC, KC] bool: the blocks whose weight is below <paramref name="tailMass"/> / KC of their query
    /// cluster's total (empty key clusters, of weight 0, included; callers compensate only non-empty ones).
    /// </summary>
    /// <param name="means">Means of the layout's clusters.</param>
    /// <param name="scale">Softmax scale.</param>
    /// <param name="tailMass">τ in (0, 1): the largest share of a query cluster's centroid mass the tail may hold.</param>
    public static Tensor Of(ClusterMeans means, double scale, double tailMass)
    {
        using var logits = ClusterCompensationTerms.CentroidLogits(means.QueryMeans, means.KeyMeans, means.KeySizes, scale);
        return Of(logits, tailMass);
    }

    /// <summary>The tail (see <see cref="Of(ClusterMeans, double, double)"/>) from the blocks' log-weights.</summary>
    /// <param name="logits">[G, QC, KC] float32 log-weights ln w_ab (<see cref="ClusterCompensationTerms.CentroidLogits"/>).</param>
    /// <param name="tailMass">τ in (0, 1): the largest share of a query cluster's centroid mass the tail may hold.</param>
    public static Tensor Of(Tensor logits, double tailMass)
    {
        if (logits.dim() != 3) throw new ArgumentException($"Centroid log-weights must be [G, QC, KC]; got {TensorPredicates.Shape(logits)}.", nameof(logits));
        double threshold = LogThreshold(tailMass, logits.shape[2]);
        using var scope = NewDisposeScope();
        var total = logits.logsumexp(-1, keepdim: true);
        // A query cluster whose weights are all 0 (-inf) has no tail to speak of: its compare with NaN is false.
        return (logits - total).lt(threshold).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ln(τ / KC): a block is in the tail when its log-weight minus its query cluster's log-sum-exp is below this.
    /// Throws unless τ lies in (0, 1).
    /// </summary>
    public static double LogThreshold(double tailMass, long keyClusters)
    {
        if (!(tailMass > 0 && tailMass < 1)) throw new ArgumentOutOfRangeException(nameof(tailMass), tailMass, "The tail's mass share must lie in (0, 1).");
        return Math.Log(tailMass / Math.Max(1, keyClusters));
    }
}
