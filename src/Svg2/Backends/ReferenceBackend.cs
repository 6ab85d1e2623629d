using Svg2.Configuration;
using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Attention.Fp8;
using static TorchSharp.torch;

namespace Svg2.Backends;

/// <summary>
/// Every SVG2 stage in portable TorchSharp operations, on any device and dtype: the oracle the fast
/// backends are checked against. It reads block structure on the host in the attention stage.
/// </summary>
public sealed class ReferenceBackend : ICompensatingBackend, IFp8AttentionBackend
{
    /// <summary>The shared instance (the backend holds no state).</summary>
    public static ReferenceBackend Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "reference";

    /// <inheritdoc/>
    public bool Supports(Tensor q, Tensor k, Tensor v, out string? reason)
    {
        reason = null;
        return true;
    }

    /// <inheritdoc/>
    public KMeansResult KMeans(Tensor points, Tensor initialCentroids, int iterations, KMeansPrecision precision = KMeansPrecision.Input) =>
        Algorithm.KMeans.Run(points, initialCentroids, iterations, precision);

    /// <inheritdoc/>
    public ClusterLayout Layout(Tensor labels, int clusters) => ClusterPermutation.FromLabels(labels, clusters);

    /// <inheritdoc/>
    public Tensor SelectKeyClusters(Tensor queryCentroids, Tensor keyCentroids, Tensor keySizes, SelectionRule rule) =>
        CriticalClusterSelection.Select(queryCentroids, keyCentroids, keySizes, rule);

    /// <inheritdoc/>
    public Tensor BlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale) =>
        VariableBlockAttention.Forward(q, k, v, queryLayout, keyLayout, blockMask, scale);

    /// <inheritdoc/>
    public ClusterMeans Means(Tensor q, Tensor k, Tensor v, Tensor queryLabels, Tensor keyLabels, int queryClusters, int keyClusters) =>
        ClusterMeans.Of(q, k, v, queryLabels, keyLabels, queryClusters, keyClusters);

    /// <inheritdoc/>
    public Tensor EstimateCompensationError(Tensor k, Tensor v, ClusterLayout keyLayout, ClusterMeans means, int? sampledKeysPerCluster = null,
        ProbeNormalisation normalisation = ProbeNormalisation.Exact) =>
        CompensationErrorProbe.Estimate(k, v, keyLayout, means, sampledKeysPerCluster, normalisation);

    /// <inheritdoc/>
    public Tensor CompensatedBlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask,
        double scale, CentroidCompensation compensation) =>
        VariableBlockAttention.Forward(q, k, v, queryLayout, keyLayout, blockMask, scale, compensation);

    /// <inheritdoc/>
    public Tensor Fp8BlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale,
        Fp8AttentionSettings settings) =>
        Attention.Fp8.Fp8BlockSparseAttention.Forward(q, k, v, queryLayout, keyLayout, blockMask, scale, settings);
}
