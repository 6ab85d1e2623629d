namespace Svg2.Attention.Fp8;

/// <summary>The choices of FP8 attention that the format leaves open.</summary>
/// <param name="Scales">Scale granularity of Q and K (V always has one scale per head and channel).</param>
/// <param name="SmoothKeys">
/// Subtract each head's mean key (over its tokens) before quantising K: every logit of a query row moves by
/// the same q·mean, so the softmax is unchanged, while K's range, and so its rounding error, shrinks.
/// </param>
public sealed record Fp8AttentionSettings(Fp8ScaleGranularity Scales = Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys, bool SmoothKeys = true)
{
    /// <summary>The defaults, chosen by the measurements of docs/quality.md ("FP8 attention").</summary>
    public static Fp8AttentionSettings Default { get; } = new();
}
