using Svg2.Algorithm;
using Svg2.Attention.Fp8;
using Svg2.Configuration;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// Exact dense attention through libtorch's scaled_dot_product_attention, split into query chunks
/// so the score matrix of a long sequence is never held whole by the portable path.
/// </summary>
public static class DenseAttention
{
    /// <summary>
    /// <see cref="Forward(Tensor, Tensor, Tensor)"/> in the given precision: under <see cref="AttentionPrecision.Fp8"/>,
    /// <see cref="Fp8DenseAttention"/> with <paramref name="fp8"/>.
    /// </summary>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionPrecision precision, Fp8AttentionSettings fp8) =>
        precision == AttentionPrecision.Fp8 ? Fp8DenseAttention.Forward(q, k, v, fp8) : Forward(q, k, v);

    /// <summary>softmax(q k^T / sqrt(D)) v for [G, S, D] or [B, H, S, D] inputs.</summary>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v)
    {
        bool grouped = q.dim() == 3;
        using var scope = NewDisposeScope();
        var (q4, k4, v4) = grouped ? (q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)) : (q, k, v);
        long rowsPerChunk = q4.device_type == TorchSharp.DeviceType.CUDA
            ? q4.shape[2] // fused kernels on the GPU never materialise the scores
            : ChunkBudget.Rows(q4.shape[0] * q4.shape[1] * k4.shape[2], q4.shape[2]);
        var output = rowsPerChunk >= q4.shape[2]
            ? nn.functional.scaled_dot_product_attention(q4, k4, v4)
            : cat(Enumerable.Range(0, (int)((q4.shape[2] + rowsPerChunk - 1) / rowsPerChunk))
                .Select(c => nn.functional.scaled_dot_product_attention(
                    q4.narrow(2, c * rowsPerChunk, Math.Min(rowsPerChunk, q4.shape[2] - c * rowsPerChunk)), k4, v4))
                .ToArray(), 2);
        return (grouped ? output.squeeze(0) : output).MoveToOuterDisposeScope();
    }
}
