namespace Svg2.Evaluation.Benchmarks;

/// <summary>FP8 attention timed beside the bf16 kernel on the same plan (mean milliseconds, CUDA events).</summary>
/// <param name="QuantizeMs">The quantisation of q, k and v to e4m3 with their scales (K smoothing included).</param>
/// <param name="AttentionMs">The FP8 attention kernel alone.</param>
/// <param name="OperatorMs">A warm <c>Svg2Attention.Forward</c> with <c>--precision fp8</c> at the same rule; NaN for dense attention.</param>
/// <param name="RelativeError">
/// ||FP8 output - bf16 output|| / ||bf16 output|| over the whole tensor: against the bf16 kernel on the same plan, or
/// against bf16 dense SDPA for dense attention; NaN where not measured.
/// </param>
public sealed record Fp8AttentionTiming(double QuantizeMs, double AttentionMs, double OperatorMs, double RelativeError = double.NaN)
{
    /// <summary>Quantisation and attention.</summary>
    public double TotalMs => QuantizeMs + AttentionMs;
}
