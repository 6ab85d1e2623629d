using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention.Fp8;

/// <summary>
/// Dense attention with Q, K, P and V in FP8 E4M3, in TorchSharp operations: the scheme of
/// <see cref="Fp8BlockSparseAttention"/> with every key for every query, in the original token order
/// (quantisation tiles and key steps counted from token 0), softmax scale 1/sqrt(D).
/// </summary>
public static class Fp8DenseAttention
{
    /// <summary>The attention for [G, S, D] or [B, H, S, D] inputs, D one of <see cref="Fp8Tiles.HeadDims"/>, in the dtype of <paramref name="q"/>.</summary>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Fp8AttentionSettings settings)
    {
        if (q.dim() is not (3 or 4) || k.dim() != q.dim() || v.dim() != q.dim())
            throw new ArgumentException($"q, k, v must be [G, S, D] or [B, H, S, D]; got [{string.Join(", ", q.shape)}], [{string.Join(", ", k.shape)}], [{string.Join(", ", v.shape)}].");
        if (q.dim() == 4) return Grouped(q, k, v, settings);
        if (q.shape[0] != k.shape[0] || k.shape[0] != v.shape[0] || q.shape[2] != k.shape[2] || k.shape[1] != v.shape[1])
            throw new ArgumentException($"q [{string.Join(", ", q.shape)}], k [{string.Join(", ", k.shape)}] and v [{string.Join(", ", v.shape)}] disagree in groups, head dimension or key count.");
        Fp8Tiles.RequireHeadDim(q.shape[2]);
        Fp8Tiles.RequireHeadDim(v.shape[2]);
        using var scope = NewDisposeScope();
        var (queries, keys, keyBias) = Fp8Smoothing.Apply(q, k, settings);
        using var operands = Fp8Operands.Quantize(queries, keys, v, settings.Scales, keyBias);
        long rows = q.shape[1];
        // The largest temporaries are a chunk's logits and its per-step partial outputs.
        long chunk = ChunkBudget.Rows(k.shape[1] + (k.shape[1] + Fp8Tiles.KeyBlockKeys - 1) / Fp8Tiles.KeyBlockKeys * v.shape[2], rows);
        var output = zeros([q.shape[0], rows, v.shape[2]], ScalarType.Float32, q.device);
        double scale = 1.0 / Math.Sqrt(q.shape[2]);
        for (int g = 0; g < q.shape[0]; g++)
            for (long start = 0; start < rows; start += chunk)
            {
                long count = Math.Min(chunk, rows - start);
                using var part = operands.Attend(g, start, count, null, scale);
                output[g].narrow(0, start, count).copy_(part);
            }
        return operands.ScaleValues(output).to(q.dtype).MoveToOuterDisposeScope();
    }

    static Tensor Grouped(Tensor q, Tensor k, Tensor v, Fp8AttentionSettings settings)
    {
        using var scope = NewDisposeScope();
        var output = Forward(AttentionInputs.Flatten(q), AttentionInputs.Flatten(k), AttentionInputs.Flatten(v), settings);
        return output.reshape(q.shape[0], q.shape[1], q.shape[2], v.shape[3]).MoveToOuterDisposeScope();
    }
}
