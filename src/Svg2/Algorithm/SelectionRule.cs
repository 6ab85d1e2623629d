namespace Svg2.Algorithm;

/// <summary>How the size-weighted centroid probabilities are accumulated for the top-p cut.</summary>
public enum SelectionPrecision
{
    /// <summary>Float32 throughout (a documented deviation from the reference; changes a borderline
    /// cluster in a small share of rows).</summary>
    Float32,

    /// <summary>The reference's bfloat16 numerics: probabilities and prefix sums rounded to bf16,
    /// threshold bf16(top_p) (0.8984375 for 0.9).</summary>
    BFloat16Emulated,
}

/// <summary>
/// The top-p rule that picks the critical key clusters of each query cluster.
/// </summary>
/// <param name="TopP">Cumulative probability mass to cover, in (0, 1].</param>
/// <param name="MinKeyClusterRatio">At least floor(ratio x KC) key clusters are always kept.</param>
/// <param name="Precision">Numerics of the cumulative sum.</param>
public readonly record struct SelectionRule(double TopP, double MinKeyClusterRatio, SelectionPrecision Precision = SelectionPrecision.Float32)
{
    /// <summary>The number of key clusters kept regardless of mass.</summary>
    public int MinimumKept(long keyClusters) => (int)Math.Floor(MinKeyClusterRatio * keyClusters + 1e-9);
}
