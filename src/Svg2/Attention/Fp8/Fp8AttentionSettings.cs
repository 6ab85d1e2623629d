namespace Svg2.Attention.Fp8;

/// <summary>The choices of FP8 attention that the format leaves open.</summary>
/// <param name="Scales">Scale granularity of Q and K (V always has one scale per head and channel).</param>
/// <param name="SmoothKeys">
/// Subtract each head's mean key (over its tokens) before quantising K: every logit of a query row moves by
/// the same q·mean, so the softmax is unchanged, while K's range, and so its rounding error, shrinks.
/// </param>
public sealed record Fp8AttentionSettings(Fp8ScaleGranularity Scales = Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys, bool SmoothKeys = true)
{
    /// <summary>
    /// The defaults: per-token Q with per-head K scales, the faster kernel for 5-10% more error than per-token keys
    /// (docs/quality.md and docs/cuda-performance.md, "FP8 attention"), and K smoothed.
    /// </summary>
    public static Fp8AttentionSettings Default { get; } = new();
}
