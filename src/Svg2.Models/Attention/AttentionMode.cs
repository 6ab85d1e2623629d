namespace Svg2.Models.Attention;

/// <summary>How <see cref="Svg2AttentionProcessor"/> runs one call.</summary>
public enum AttentionMode
{
    /// <summary>Dense attention only.</summary>
    Dense,

    /// <summary>Dense attention, plus k-means on q and k to refine the layer's centroid cache (dense warm-up with k-means).</summary>
    DenseWithKMeans,

    /// <summary>SVG2 sparse attention.</summary>
    Sparse,
}
