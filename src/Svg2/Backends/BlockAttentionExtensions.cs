using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Backends;

/// <summary>Block-sparse attention from a <see cref="BlockSparsity"/>, on any backend.</summary>
public static class BlockAttentionExtensions
{
    /// <summary>
    /// Permutes rows by block (a stable counting sort), attends each query block over its selected
    /// key blocks and returns [G, S, D] in the original order, with scale 1/sqrt(D).
    /// </summary>
    public static Tensor Attend(this ISvg2Backend backend, Tensor q, Tensor k, Tensor v, BlockSparsity sparsity)
    {
        using var queryLayout = backend.Layout(sparsity.QueryLabels, (int)sparsity.BlockMask.shape[1]);
        using var keyLayout = backend.Layout(sparsity.KeyLabels, (int)sparsity.BlockMask.shape[2]);
        return backend.BlockSparseAttention(q, k, v, queryLayout, keyLayout, sparsity.BlockMask, 1.0 / Math.Sqrt(q.shape[2]));
    }

    /// <summary>
    /// <see cref="Attend(ISvg2Backend, Tensor, Tensor, Tensor, BlockSparsity)"/> with the blocks the
    /// pattern skips approximated by <paramref name="compensation"/> (its means over the pattern's blocks).
    /// </summary>
    public static Tensor Attend(this ICompensatingBackend backend, Tensor q, Tensor k, Tensor v, BlockSparsity sparsity, Algorithm.CentroidCompensation compensation)
    {
        using var queryLayout = backend.Layout(sparsity.QueryLabels, (int)sparsity.BlockMask.shape[1]);
        using var keyLayout = backend.Layout(sparsity.KeyLabels, (int)sparsity.BlockMask.shape[2]);
        return backend.CompensatedBlockSparseAttention(q, k, v, queryLayout, keyLayout, sparsity.BlockMask, 1.0 / Math.Sqrt(q.shape[2]), compensation);
    }

    /// <summary>
    /// <see cref="Attend(ISvg2Backend, Tensor, Tensor, Tensor, BlockSparsity)"/> with Q, K, P and V in FP8 under <paramref name="settings"/>.
    /// </summary>
    public static Tensor AttendFp8(this IFp8AttentionBackend backend, Tensor q, Tensor k, Tensor v, BlockSparsity sparsity, Attention.Fp8.Fp8AttentionSettings settings)
    {
        using var queryLayout = backend.Layout(sparsity.QueryLabels, (int)sparsity.BlockMask.shape[1]);
        using var keyLayout = backend.Layout(sparsity.KeyLabels, (int)sparsity.BlockMask.shape[2]);
        return backend.Fp8BlockSparseAttention(q, k, v, queryLayout, keyLayout, sparsity.BlockMask, 1.0 / Math.Sqrt(q.shape[2]), settings);
    }
}
