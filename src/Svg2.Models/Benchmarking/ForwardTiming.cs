namespace Svg2.Models.Benchmarking;

/// <summary>Timing of transformer forwards (one guidance pass each) with one attention method.</summary>
/// <param name="Method">The method's name.</param>
/// <param name="Layers">Blocks in the measured model.</param>
/// <param name="FirstForwardMs">The first forward (for SVG2: k-means from random centroids).</param>
/// <param name="ForwardMs">Mean of the later forwards (for SVG2: warm-started k-means).</param>
/// <param name="AttentionMs">Self-attention time per later forward, all layers.</param>
/// <param name="BlockMs">Mean time of one block in the later forwards.</param>
/// <param name="OutsideBlocksMs">Per later forward, time outside the blocks (embeddings, head).</param>
/// <param name="MeanDensity">Mean fraction of the score matrix computed, over sparse calls (null for dense).</param>
public sealed record ForwardTiming(string Method, int Layers, double FirstForwardMs, double ForwardMs, double AttentionMs,
    double BlockMs, double OutsideBlocksMs, double? MeanDensity)
{
    /// <summary>Projected later-forward time of a model with <paramref name="layers"/> blocks.</summary>
    public double ProjectedForwardMs(int layers) => OutsideBlocksMs + BlockMs * layers;

    /// <summary>
    /// Projected first-forward time of a model with <paramref name="layers"/> blocks: its extra cost over a
    /// later forward (SVG2's k-means from scratch) is per layer.
    /// </summary>
    public double ProjectedFirstForwardMs(int layers) => ProjectedForwardMs(layers) + (FirstForwardMs - ForwardMs) * layers / Layers;

    /// <summary>Share of a later forward spent in self-attention.</summary>
    public double AttentionShare => AttentionMs / ForwardMs;
}
