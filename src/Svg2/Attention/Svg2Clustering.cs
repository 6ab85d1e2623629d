using Svg2.Algorithm;

namespace Svg2.Attention;

/// <summary>The clustering stage of one SVG2 call: k-means of the video rows of Q and of K.</summary>
/// <param name="Query">Query clusters: labels [G, Sv], centroids [G, QC, D], sizes [G, QC].</param>
/// <param name="Key">Key clusters: labels [G, Sv], centroids [G, KC, D], sizes [G, KC].</param>
/// <param name="QueryClusters">QC after scaling.</param>
/// <param name="KeyClusters">KC after scaling.</param>
/// <param name="Iterations">Iterations run (init or warm-started count).</param>
/// <param name="Text">Trailing text rows of the call, if any.</param>
public sealed record Svg2Clustering(KMeansResult Query, KMeansResult Key, int QueryClusters, int KeyClusters, int Iterations, TextTokens? Text) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose()
    {
        Query.Dispose();
        Key.Dispose();
    }
}
