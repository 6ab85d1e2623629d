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

    /// <summary>
    /// Dense attention with Q, K, P and V in FP8 through the backend's block-sparse FP8 attention: every row in one query
    /// and one key cluster, the block selected, so keys are walked in token order (as <see cref="Attention.Fp8.Fp8DenseAttention"/>).
    /// </summary>
    /// <param name="backend">A backend with FP8 attention.</param>
    /// <param name="q">[G, S, D] or [B, H, S, D].</param>
    /// <param name="k">Keys, laid out as <paramref name="q"/> (self-attention or not).</param>
    /// <param name="v">Values, laid out as <paramref name="k"/>.</param>
    /// <param name="settings">FP8's scale granularity and K smoothing.</param>
    /// <returns>The attention in the shape and dtype of <paramref name="q"/>, softmax scale 1/sqrt(D).</returns>
    public static Tensor AttendFp8Dense(this IFp8AttentionBackend backend, Tensor q, Tensor k, Tensor v, Attention.Fp8.Fp8AttentionSettings settings)
    {
        if (q.dim() is not (3 or 4) || k.dim() != q.dim() || v.dim() != q.dim())
            throw new ArgumentException($"q, k, v must be [G, S, D] or [B, H, S, D]; got [{string.Join(", ", q.shape)}], [{string.Join(", ", k.shape)}], [{string.Join(", ", v.shape)}].");
        using var scope = NewDisposeScope();
        var (q3, k3, v3) = q.dim() == 4
            ? (Attention.AttentionInputs.Flatten(q), Attention.AttentionInputs.Flatten(k), Attention.AttentionInputs.Flatten(v))
            : (q.contiguous(), k.contiguous(), v.contiguous());
        long groups = q3.shape[0];
        using var queryLayout = backend.Layout(zeros([groups, q3.shape[1]], ScalarType.Int64, q.device), 1);
        using var keyLayout = backend.Layout(zeros([groups, k3.shape[1]], ScalarType.Int64, k.device), 1);
        var output = backend.Fp8BlockSparseAttention(q3, k3, v3, queryLayout, keyLayout, ones([groups, 1, 1], ScalarType.Bool, q.device),
            1.0 / Math.Sqrt(q.shape[^1]), settings);
        return output.reshape(q.shape).MoveToOuterDisposeScope();
    }
}
