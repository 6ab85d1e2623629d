using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>The output of one SVG2 call and its statistics.</summary>
/// <param name="Output">[B, H, S, D] in the original token order.</param>
/// <param name="Density">[B, H] float64 fraction of the score matrix computed per head (kept on the
/// device: reading it is a host synchronisation the caller chooses).</param>
/// <param name="Sparsity">The block structure used: labels and block mask (text blocks included).</param>
/// <param name="QueryClusters">Query clusters used (after scaling).</param>
/// <param name="KeyClusters">Key clusters used (after scaling).</param>
/// <param name="KMeansIterations">Iterations run on Q and on K (init or warm-started count).</param>
/// <param name="TopP">The top-p the selection used: the configured one, or with a target density the
/// layer's chosen one (<see cref="Svg2LayerState.ChosenTopP"/>); NaN under error-aware routing.</param>
/// <param name="ErrorThreshold">The λ error-aware routing used (configured, or the layer's chosen one,
/// <see cref="Svg2LayerState.ChosenErrorThreshold"/>); null under top-p routing.</param>
public sealed record Svg2Result(
    Tensor Output,
    Tensor Density,
    BlockSparsity Sparsity,
    int QueryClusters,
    int KeyClusters,
    int KMeansIterations,
    double TopP,
    double? ErrorThreshold = null) : IDisposable
{
    /// <summary>Density per head, flattened over batch and heads (a host read).</summary>
    public double[] DensityPerHead() => Density.cpu().reshape(-1).data<double>().ToArray();

    /// <summary>
    /// Per head (flattened over batch and heads), the share of video query clusters the selection's
    /// fixed minimum held at the floor (<see cref="SelectionFloor"/>; a host read).
    /// </summary>
    public double[] FloorSharePerHead() => Sparsity.FloorShare!.cpu().reshape(-1).data<double>().ToArray();

    /// <inheritdoc/>
    public void Dispose()
    {
        Output.Dispose();
        Density.Dispose();
        Sparsity.Dispose();
    }
}
