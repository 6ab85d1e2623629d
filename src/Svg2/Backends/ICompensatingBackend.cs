using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Backends;

/// <summary>
/// A backend that can also run the stages of centroid compensation and error-aware routing
/// (the <c>svg2-ear</c> method): the cluster means, the routing probe, and the attention stage with the
/// compensation terms merged into each row's online softmax. <see cref="Attention.Svg2Attention"/> runs
/// options with compensation on the reference backend when its backend lacks this capability
/// (<see cref="BackendChoice.For(ISvg2Backend?, Configuration.Svg2Options, out string?)"/>).
/// </summary>
public interface ICompensatingBackend : ISvg2Backend
{
    /// <summary>The float32 member means of the given clusters; see <see cref="ClusterMeans.Of"/>.</summary>
    ClusterMeans Means(Tensor q, Tensor k, Tensor v, Tensor queryLabels, Tensor keyLabels, int queryClusters, int keyClusters);

    /// <summary>The error-to-cost score of every block; see <see cref="CompensationErrorProbe.Estimate"/>.</summary>
    /// <param name="k">[G, N, D] keys (original order).</param>
    /// <param name="v">[G, N, Dv] values.</param>
    /// <param name="keyLayout">The key clusters' layout.</param>
    /// <param name="means">The cluster means and sizes.</param>
    /// <param name="sampledKeysPerCluster">Probe at most this many keys of each cluster (<see cref="ProbeKeySample"/>); null: every key.</param>
    /// <param name="normalisation">Where the probe takes each query cluster's normaliser and output from.</param>
    Tensor EstimateCompensationError(Tensor k, Tensor v, ClusterLayout keyLayout, ClusterMeans means, int? sampledKeysPerCluster = null,
        ProbeNormalisation normalisation = ProbeNormalisation.Exact);

    /// <summary>
    /// <see cref="ISvg2Backend.BlockSparseAttention"/> plus the compensation of the blocks in
    /// <paramref name="compensation"/> that the mask leaves out (see <see cref="CentroidCompensation"/>).
    /// </summary>
    Tensor CompensatedBlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask,
        double scale, CentroidCompensation compensation);
}
