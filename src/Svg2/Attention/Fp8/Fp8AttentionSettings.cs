namespace Svg2.Attention.Fp8;

/// <summary>The choices of FP8 attention that the format leaves open.</summary>
/// <param name="Scales">Scale granularity of Q and K (V always has one scale per head and channel).</param>
/// <param name="SmoothKeys">
/// Subtract each head's mean key (over its tokens) before quantising K: every logit of a query row moves by
/// the same q·mean, so the softmax is unchanged, while K's range, and so its rounding error, shrinks.
/// </param>
/// <param name="SmoothQueries">
/// Subtract each head's mean query before quantising Q and add the mean's part of every logit back as a float32
/// per-key bias (<see cref="QuerySmoothing"/>): the logits are unchanged, while Q's rounding covers only its spread.
/// </param>
public sealed record Fp8AttentionSettings(Fp8ScaleGranularity Scales = Fp8ScaleGranularity.PerToken, bool SmoothKeys = true, bool SmoothQueries = false)
{
    /// <summary>
    /// The defaults: per-token Q and K scales, K smoothed. Per-head K scales
    /// (<see cref="Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys"/>) make the kernel 11-13% faster for 5-10% more
    /// attention error and 4.6 dB less end to end on the small model (docs/quality.md, docs/end-to-end-quality.md).
    /// </summary>
    public static Fp8AttentionSettings Default { get; } = new();
}
