using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Backends;
using Svg2.Configuration;
using static TorchSharp.torch;

namespace Svg2.Models.Attention;

/// <summary>
/// Exact attention by PyTorch's fused scaled-dot-product attention (softmax scale 1/sqrt(D)), or under
/// <see cref="AttentionPrecision.Fp8"/> in FP8: through <paramref name="fp8Backend"/>'s kernels where one is given
/// (<see cref="BlockAttentionExtensions.AttendFp8Dense"/>), else the emulation (<see cref="Fp8DenseAttention"/>).
/// </summary>
/// <param name="precision">The attention's numerics.</param>
/// <param name="fp8">FP8's settings; the defaults when null.</param>
/// <param name="fp8Backend">The backend whose FP8 attention runs dense FP8 calls; null: the emulation.</param>
public sealed class DenseAttentionProcessor(AttentionPrecision precision = AttentionPrecision.BFloat16, Fp8AttentionSettings? fp8 = null,
    IFp8AttentionBackend? fp8Backend = null) : ISelfAttentionProcessor
{
    /// <summary>A shared instance in the inputs' precision; the processor holds no state.</summary>
    public static DenseAttentionProcessor Instance { get; } = new();

    /// <inheritdoc />
    public Tensor Process(AttentionCall call) => precision != AttentionPrecision.Fp8
        ? nn.functional.scaled_dot_product_attention(call.Query, call.Key, call.Value)
        : fp8Backend is null
            ? DenseAttention.Forward(call.Query, call.Key, call.Value, precision, fp8 ?? Fp8AttentionSettings.Default)
            : fp8Backend.AttendFp8Dense(call.Query, call.Key, call.Value, fp8 ?? Fp8AttentionSettings.Default);
}
