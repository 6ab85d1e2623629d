using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// Exact block-sparse attention whose blocks are variable-size clusters, in TorchSharp operations:
/// the portable reference of the attention stage.
/// </summary>
/// <remarks>
/// Works in the permuted layout, head by head, with one of two strategies that give the same output within
/// float32 rounding (<see cref="StrategyFor"/> picks): gathering the selected keys of each query cluster
/// (<see cref="GatheredBlockAttention"/>: work in proportion to the density, but many small copies and
/// products) or masking every unselected key of a dense product (<see cref="MaskedBlockAttention"/>: dense
/// attention's cost and speed). The block structure is read on the host, which is fine for a reference
/// path and is exactly what a fast backend avoids.
/// </remarks>
public static class VariableBlockAttention
{
    /// <summary>
    /// The density (<see cref="BlockSparsity.Density"/>) from which a head runs masked rather than gathered:
    /// on a 2-core x86-64 CPU at 6,336 tokens, head dimension 64 and clusters of 21 queries and 6 keys, the
    /// masked head takes about 107 ms whatever its density and gathering about 55 ms + 250 ms x density
    /// (the same at a fifth to a quarter of the keys, 2.6x at 80%).
    /// </summary>
    internal const double MaskedFromDensity = 0.25;

    /// <summary>Computes the attention; see <see cref="Backends.ISvg2Backend.BlockSparseAttention"/>.</summary>
    /// <param name="q">[G, Nq, D] in original token order.</param>
    /// <param name="k">[G, Nk, D] in original token order.</param>
    /// <param name="v">[G, Nk, Dv] in original token order.</param>
    /// <param name="queryLayout">Clusters of the query rows.</param>
    /// <param name="keyLayout">Clusters of the key rows.</param>
    /// <param name="blockMask">[G, QC, KC] bool: the blocks computed exactly.</param>
    /// <param name="scale">Softmax scale.</param>
    /// <param name="compensation">Centroid compensation of blocks not computed exactly, or null (SVG2).</param>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale,
        CentroidCompensation? compensation = null) =>
        Forward(q, k, v, queryLayout, keyLayout, blockMask, scale, compensation, StrategyFor);

    /// <summary>
    /// How a head is computed: masked when it is at least <see cref="MaskedFromDensity"/> dense and its inputs
    /// allow masking (<see cref="MaskedBlockAttention.Applies"/>: finite values, no score that can overflow),
    /// gathered otherwise.
    /// </summary>
    /// <param name="density">The head's share of query-key pairs computed exactly.</param>
    /// <param name="maskable">Whether the masked strategy gives the gathering one's output for this head.</param>
    internal static BlockAttentionStrategy StrategyFor(double density, bool maskable) =>
        maskable && density >= MaskedFromDensity ? BlockAttentionStrategy.Masked : BlockAttentionStrategy.Gathered;

    /// <summary><see cref="Forward(Tensor, Tensor, Tensor, ClusterLayout, ClusterLayout, Tensor, double, CentroidCompensation?)"/> under a given choice of strategy per head.</summary>
    internal static Tensor Forward(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale,
        CentroidCompensation? compensation, Func<double, bool, BlockAttentionStrategy> strategyFor)
    {
        Validate(q, k, v, queryLayout, keyLayout, blockMask);
        compensation?.Validate(blockMask, v.shape[2]);
        using var scope = NewDisposeScope();
        var problem = new BlockAttentionProblem(
            ClusterPermutation.Apply(q, queryLayout.Permutation).to(ScalarType.Float32),
            ClusterPermutation.Apply(k, keyLayout.Permutation).to(ScalarType.Float32),
            ClusterPermutation.Apply(v, keyLayout.Permutation).to(ScalarType.Float32),
            queryLayout, keyLayout, blockMask, scale, compensation, compensation?.RowBlocks(blockMask), compensation?.ClusterBlocks(blockMask));
        bool[] maskable = MaskedBlockAttention.Applies(problem);
        double[] density = Densities(queryLayout, keyLayout, blockMask);
        var output = zeros([q.shape[0], q.shape[1], v.shape[2]], ScalarType.Float32, q.device);
        for (int g = 0; g < q.shape[0]; g++)
        {
            using var head = output[g];
            if (strategyFor(density[g], maskable[g]) == BlockAttentionStrategy.Masked) MaskedBlockAttention.Attend(problem, g, head);
            else GatheredBlockAttention.Attend(problem, g, head);
        }
        return ClusterPermutation.Invert(output, queryLayout.Permutation).to(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>[G] on the host: sum_ij mask[i, j] |Q_i| |K_j| / (Nq Nk), 0 for an empty problem.</summary>
    static double[] Densities(ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask)
    {
        using var scope = NewDisposeScope();
        var computed = queryLayout.Sizes.to(ScalarType.Float64).unsqueeze(1).bmm(blockMask.to(ScalarType.Float64)).bmm(keyLayout.Sizes.to(ScalarType.Float64).unsqueeze(2));
        double pairs = Math.Max(1.0, (double)queryLayout.Tokens * keyLayout.Tokens);
        return (computed.reshape(-1) / pairs).cpu().data<double>().ToArray();
    }

    internal static void Validate(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask)
    {
        if (q.dim() != 3 || k.dim() != 3 || v.dim() != 3)
            throw new ArgumentException($"q, k, v must be [G, N, D]; got [{string.Join(", ", q.shape)}], [{string.Join(", ", k.shape)}], [{string.Join(", ", v.shape)}].");
        if (q.shape[0] != k.shape[0] || k.shape[0] != v.shape[0] || q.shape[2] != k.shape[2] || k.shape[1] != v.shape[1])
            throw new ArgumentException($"q [{string.Join(", ", q.shape)}], k [{string.Join(", ", k.shape)}] and v [{string.Join(", ", v.shape)}] disagree in groups, head dimension or key count.");
        if (queryLayout.Tokens != q.shape[1] || keyLayout.Tokens != k.shape[1])
            throw new ArgumentException($"Cluster layouts cover {queryLayout.Tokens} query and {keyLayout.Tokens} key rows; the inputs have {q.shape[1]} and {k.shape[1]}.");
        if (blockMask.dtype != ScalarType.Bool || blockMask.dim() != 3 || blockMask.shape[0] != q.shape[0]
            || blockMask.shape[1] != queryLayout.Clusters || blockMask.shape[2] != keyLayout.Clusters)
            throw new ArgumentException($"Block mask must be bool [{q.shape[0]}, {queryLayout.Clusters}, {keyLayout.Clusters}]; got {blockMask.dtype} [{string.Join(", ", blockMask.shape)}].");
    }
}
