using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention.Fp8;

/// <summary>
/// Block-sparse attention over variable-size clusters with Q, K, P and V in FP8 E4M3: the portable
/// reference of an FP8 attention kernel, in TorchSharp operations (float32 where the kernel keeps float32).
/// </summary>
/// <remarks>
/// <para>The scheme, step by step, as a kernel reproduces it:</para>
/// <list type="number">
/// <item>K smoothing (<see cref="Fp8AttentionSettings.SmoothKeys"/>): k ← k − mean over the head's N keys, in float32 (<see cref="KeySmoothing"/>).
///   Q smoothing (<see cref="Fp8AttentionSettings.SmoothQueries"/>, off by default): q ← q − q̄, with the per-key bias q̄ · k in float32 (<see cref="QuerySmoothing"/>).</item>
/// <item>Permutation: q rows by query cluster, k and v rows by key cluster (the same layout as the bf16 path).</item>
/// <item>Quantisation (<see cref="Fp8Quantizer"/>) in that permuted row order, by <see cref="Fp8AttentionSettings.Scales"/>:
///   Q and K one scale per row (<see cref="Fp8ScaleGranularity.PerToken"/>, the default), per tile of
///   <see cref="Fp8Tiles.QueryTileRows"/> query and <see cref="Fp8Tiles.KeyTileRows"/> key rows (tiles counted from
///   permuted row 0, independent of cluster boundaries), per head, or Q per row and K per head
///   (<see cref="Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys"/>); V per head and channel. Scales: s = absmax / 448.</item>
/// <item>Each query cluster's key sequence is the permuted key rows of its selected key clusters, concatenated
///   in increasing cluster id, walked in steps of <see cref="Fp8Tiles.KeyBlockKeys"/> keys (a step may span clusters).</item>
/// <item>Logits s = ((q̂ · k̂) × (s_q[row] × s_k[key]) + b[key]) × scale in float32: the FP8 product, then the row's and the
///   key's scale (per-row and per-column factors on the accumulator; one factor per head under per-head scales), then
///   Q smoothing's bias b (0 without it).</item>
/// <item>Online softmax in float32 with a running row maximum m_b after step b; P_b = exp(s − m_b) ∈ [0, 1].</item>
/// <item>P̂_b = e4m3(P_b × 448) (<see cref="Fp8Tiles.ProbabilityScale"/>): a fixed scale, so 1 maps to 448 and
///   probabilities below 2^-9 / 448 ≈ 4.4e-6 of the running maximum round to 0. The row sum l accumulates the rounded
///   P̂_b (rescaled by exp(m_old − m_new) as m grows): the output is normalised by the weights its products used, and a
///   kernel gets l from the same FP8 product (a column of ones beside V) instead of an add per logit.</item>
/// <item>Two-level accumulation of P·V (SageAttention2): each step's P̂_b · v̂_b is one short FP8 MMA chain of
///   <see cref="Fp8Tiles.KeyBlockKeys"/> keys into fresh registers (inner level), then added in float32 to the
///   row's output accumulator after its rescaling (outer level). Hopper's FP8 MMA keeps fewer accumulator bits
///   than float32, so only one step's sum ever passes through it; the reference computes both levels in float32.</item>
/// <item>O = acc × s_v[channel] / l, stored in the inputs' dtype in the original token order; a row with
///   no selected key is 0.</item>
/// </list>
/// <para>A kernel that follows these steps rounds Q, K and V identically; P's rounding depends on float32 logits
/// and maxima, which its MMA and exp2 round differently in the last bits, so its output agrees with this one to
/// well below the FP8 error (a rare P element may round the other way). The block structure is read on the host,
/// as in <see cref="VariableBlockAttention"/>.</para>
/// </remarks>
public static class Fp8BlockSparseAttention
{
    /// <summary>Computes the attention; the arguments are those of <see cref="VariableBlockAttention"/>'s <c>Forward</c> without compensation.</summary>
    /// <param name="q">[G, Nq, D] in original token order, D one of <see cref="Fp8Tiles.HeadDims"/>.</param>
    /// <param name="k">[G, Nk, D] in original token order.</param>
    /// <param name="v">[G, Nk, D] in original token order.</param>
    /// <param name="queryLayout">Clusters of the query rows.</param>
    /// <param name="keyLayout">Clusters of the key rows.</param>
    /// <param name="blockMask">[G, QC, KC] bool: the blocks computed.</param>
    /// <param name="scale">Softmax scale.</param>
    /// <param name="settings">Scale granularity and K smoothing.</param>
    /// <returns>[G, Nq, D] in the dtype of <paramref name="q"/>.</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale,
        Fp8AttentionSettings settings)
    {
        VariableBlockAttention.Validate(q, k, v, queryLayout, keyLayout, blockMask);
        Fp8Tiles.RequireHeadDim(q.shape[2]);
        Fp8Tiles.RequireHeadDim(v.shape[2]);
        using var scope = NewDisposeScope();
        var (queries, keys, keyBias) = Fp8Smoothing.Apply(q, k, settings);
        using var operands = Fp8Operands.Quantize(ClusterPermutation.Apply(queries, queryLayout.Permutation), ClusterPermutation.Apply(keys, keyLayout.Permutation),
            ClusterPermutation.Apply(v, keyLayout.Permutation), settings.Scales,
            keyBias is null ? null : ClusterPermutation.Apply(keyBias.unsqueeze(2), keyLayout.Permutation).squeeze(2));
        var output = zeros([q.shape[0], q.shape[1], v.shape[2]], ScalarType.Float32, q.device);
        foreach (var work in QueryClusterBlocks.Read(queryLayout, keyLayout, blockMask))
        {
            using var inner = NewDisposeScope();
            var index = tensor(work.KeyRows, ScalarType.Int64, q.device);
            output[work.Group].narrow(0, work.RowStart, work.RowCount).copy_(operands.Attend(work.Group, work.RowStart, work.RowCount, index, scale));
        }
        return ClusterPermutation.Invert(operands.ScaleValues(output), queryLayout.Permutation).to(q.dtype).MoveToOuterDisposeScope();
    }
}
