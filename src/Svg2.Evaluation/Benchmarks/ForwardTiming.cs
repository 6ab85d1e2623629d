using Svg2.Models.Profiling;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>Timing of transformer forwards (one guidance pass each) with one attention method.</summary>
/// <param name="Method">The method's name.</param>
/// <param name="Layers">Blocks in the measured model.</param>
/// <param name="FirstForwardMs">The first forward (for SVG2: k-means from random centroids and any density search).</param>
/// <param name="ForwardMs">Mean device time of the later forwards (for SVG2: warm-started k-means).</param>
/// <param name="ClassMs">Per later forward, device milliseconds of each op class.</param>
/// <param name="BlockMs">Mean device time of one block in the later forwards.</param>
/// <param name="HostEnqueueMs">Per later forward, host time to enqueue its work (the device runs behind).</param>
/// <param name="MeanDensity">Mean fraction of the score matrix computed, over sparse calls (null for dense).</param>
public sealed record ForwardTiming(string Method, int Layers, double FirstForwardMs, double ForwardMs, IReadOnlyDictionary<WanOpClass, double> ClassMs,
    double BlockMs, double HostEnqueueMs, double? MeanDensity)
{
    /// <summary>Self-attention time per later forward, all layers.</summary>
    public double AttentionMs => ClassMs[WanOpClass.SelfAttention];

    /// <summary>Per later forward, time outside the blocks (embeddings, head).</summary>
    public double OutsideBlocksMs => ClassMs[WanOpClass.OutsideBlocks];

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
