using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// The critical key clusters of every query cluster: the size-weighted centroid softmax and the
/// top-p cut, in TorchSharp operations.
/// </summary>
/// <remarks>
/// For query cluster i: s_ij = cq_i . ck_j / sqrt(D); P_ij = |K_j| exp(s_ij - max s) / sum;
/// key clusters sorted by P descending are kept while the mass ranked before them is at most
/// top_p (so the crossing cluster is kept and the first always is), and the first
/// floor(ratio x KC) are kept regardless. There is no maximum. Empty key clusters weigh 0 and sort
/// last; the stable sort breaks ties by cluster id.
/// </remarks>
public static class CriticalClusterSelection
{
    /// <summary>Selects key clusters.</summary>
    /// <param name="queryCentroids">[G, QC, D].</param>
    /// <param name="keyCentroids">[G, KC, D].</param>
    /// <param name="keySizes">[G, KC] int64.</param>
    /// <param name="rule">The top-p rule.</param>
    /// <returns>[G, QC, KC] bool.</returns>
    public static Tensor Select(Tensor queryCentroids, Tensor keyCentroids, Tensor keySizes, SelectionRule rule)
    {
        if (queryCentroids.dim() != 3 || keyCentroids.dim() != 3 || keySizes.dim() != 2)
            throw new ArgumentException("Selection needs query centroids [G, QC, D], key centroids [G, KC, D] and key sizes [G, KC].");
        if (keyCentroids.shape[1] != keySizes.shape[1] || queryCentroids.shape[0] != keyCentroids.shape[0] || queryCentroids.shape[2] != keyCentroids.shape[2])
            throw new ArgumentException($"Selection shapes disagree: query centroids [{string.Join(", ", queryCentroids.shape)}], key centroids [{string.Join(", ", keyCentroids.shape)}], key sizes [{string.Join(", ", keySizes.shape)}].");
        if (!(rule.TopP > 0 && rule.TopP <= 1)) throw new ArgumentException($"top_p must lie in (0, 1] (got {rule.TopP}).");

        using var scope = NewDisposeScope();
        var probabilities = Probabilities(queryCentroids, keyCentroids, keySizes, rule.Precision == SelectionPrecision.BFloat16Emulated);
        return CutTopP(probabilities, rule).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The top-p cut of probability rows: for each row of <paramref name="probabilities"/> [..., KC],
    /// the entries kept by the rule, as a bool tensor of the same shape.
    /// </summary>
    public static Tensor CutTopP(Tensor probabilities, SelectionRule rule)
    {
        using var scope = NewDisposeScope();
        bool emulateBFloat16 = rule.Precision == SelectionPrecision.BFloat16Emulated;
        var (sorted, order) = probabilities.sort(-1, descending: true, stable: true);
        var massBefore = emulateBFloat16 ? BFloat16ExclusivePrefixSum(sorted) : ExclusivePrefixSum(sorted);
        double threshold = emulateBFloat16 ? RoundToBFloat16(rule.TopP) : rule.TopP;
        long keyClusters = probabilities.shape[^1];
        var rank = arange(keyClusters, ScalarType.Int64, probabilities.device);
        var keep = (massBefore <= threshold) | (rank < Math.Max(1, rule.MinimumKept(keyClusters)));
        return zeros_like(keep).scatter_(-1, order, keep).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The size-weighted softmax P [G, QC, KC] in float32 (scores and P rounded to bf16 when emulating the reference).
    /// </summary>
    public static Tensor Probabilities(Tensor queryCentroids, Tensor keyCentroids, Tensor keySizes, bool emulateBFloat16 = false)
    {
        using var scope = NewDisposeScope();
        double scale = 1.0 / Math.Sqrt(queryCentroids.shape[2]);
        var scores = queryCentroids.to(ScalarType.Float32).bmm(keyCentroids.to(ScalarType.Float32).transpose(1, 2)) * scale;
        if (emulateBFloat16) scores = scores.to(ScalarType.BFloat16).to(ScalarType.Float32);
        var weights = keySizes.to(ScalarType.Float32).unsqueeze(1) * (scores - scores.amax([-1], keepdim: true)).exp();
        var probabilities = weights / weights.sum(-1, keepdim: true).clamp_min(1e-12);
        if (emulateBFloat16) probabilities = probabilities.to(ScalarType.BFloat16).to(ScalarType.Float32);
        return probabilities.MoveToOuterDisposeScope();
    }

    static Tensor ExclusivePrefixSum(Tensor sorted) => sorted.cumsum(-1) - sorted;

    /// <summary>
    /// The reference's bf16 cumulative sum: libtorch accumulates a bf16 tensor's cumsum in float32 and
    /// rounds each output prefix to bf16; entry m holds the rounded mass of ranks 0 .. m-1.
    /// </summary>
    static Tensor BFloat16ExclusivePrefixSum(Tensor sorted)
    {
        var inclusive = sorted.cumsum(-1).to(ScalarType.BFloat16).to(ScalarType.Float32);
        return cat([zeros_like(inclusive.narrow(-1, 0, 1)), inclusive.narrow(-1, 0, inclusive.shape[^1] - 1)], -1);
    }

    /// <summary>Rounds to the nearest bfloat16 value, ties to even (finite inputs).</summary>
    internal static double RoundToBFloat16(double value)
    {
        uint bits = BitConverter.SingleToUInt32Bits((float)value);
        bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
        return BitConverter.UInt32BitsToSingle(bits);
    }
}
