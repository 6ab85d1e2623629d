using Svg2.Algorithm;
using Svg2.Attention;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// The operator's quality hook filled by <see cref="AttentionQuality.Measure"/>: recall and relative
/// error of each call against dense attention (a dense pass, in chunks). Holds the last call's figures.
/// </summary>
/// <param name="sampleRows">Measure on this many seeded query rows; null for all.</param>
/// <param name="seed">Seed of the row sample.</param>
public sealed class QualityProbe(long? sampleRows = null, long seed = 0) : IAttentionQualityProbe
{
    /// <summary>The figures of the last measured call; null before the first.</summary>
    public AttentionQuality? Quality { get; private set; }

    /// <inheritdoc/>
    public void Measure(Tensor q, Tensor k, Tensor v, Tensor output, BlockSparsity sparsity) =>
        Quality = AttentionQuality.Measure(q, k, v, output, sparsity, sampleRows, seed);
}
