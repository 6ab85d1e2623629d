namespace Svg2.Models.Wan;

/// <summary>
/// How a Wan model rounds between its matrix products. Neither mode changes the weights' dtype or the
/// attention method; with float32 weights both compute in float32.
/// </summary>
public enum WanNumerics
{
    /// <summary>
    /// The public code under bf16 autocast: linear layers and attention in the weights' dtype; norms,
    /// modulation, rotary embedding and the residual stream in float32 (from the first residual add on).
    /// The conformance mode: it matches the public code within 1e-4 (float32) and 2e-2 (bf16).
    /// </summary>
    Reference,

    /// <summary>
    /// The residual stream and every elementwise step in the weights' dtype, as the diffusers
    /// implementation runs it: norms and modulation reduce and compute in float32 and round once; on a
    /// GPU the memory-bound chains run as fused kernels. The default for generation.
    /// </summary>
    Fast,
}
