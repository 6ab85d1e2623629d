namespace Svg2.Configuration;

/// <summary>The numerics of the attention itself (the exact blocks of SVG2, or dense attention).</summary>
public enum AttentionPrecision
{
    /// <summary>
    /// Q, K and V as given (bf16 on the GPU; float32 or f16 inputs stay so) with a float32 softmax: the default,
    /// named for the GPU path it runs there.
    /// </summary>
    BFloat16,

    /// <summary>
    /// Q, K, P and V in FP8 E4M3 with float32 scales and accumulation (<see cref="Attention.Fp8.Fp8BlockSparseAttention"/>),
    /// for head dimensions 64 and 128; the reference backend emulates it exactly on any device.
    /// </summary>
    Fp8,
}
