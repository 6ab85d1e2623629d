using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// The keys a sampled routing probe attends, for every head at once: at most m of each key cluster's n_b keys,
/// spread evenly over the cluster's rows in layout order, each standing for n_b / m_b keys through a log-weight
/// ln(n_b / m_b) added to its logit. The reference probe and the probe kernels walk the same sample.
/// </summary>
/// <remarks>
/// The probe's cost is a pass of the mean rows over every key; a sample of m keys per cluster bounds it by
/// QC x m x KC whatever the sequence length. The mean-row softmax over the weighted sample estimates the full one:
/// each sampled key carries its cluster's share of the mass, so the normaliser and the per-block sums are unbiased
/// for keys spread evenly inside each cluster. The mean values and sizes the compensation uses stay exact.
/// Key i of the m_b sampled in a cluster starting at row s is row s + floor((2i + 1) n_b / (2 m_b)): the centre of
/// the i-th of m_b equal parts. Built with tensor operations on the layout's device, with no host synchronisation.
/// </remarks>
public sealed class ProbeKeySample : IDisposable
{
    ProbeKeySample(Tensor positions, Tensor clusters, Tensor offsets, Tensor logWeights, int perCluster)
    {
        Positions = positions;
        Clusters = clusters;
        Offsets = offsets;
        LogWeights = logWeights;
        PerCluster = perCluster;
    }

    /// <summary>
    /// [G, KC x m] int64: the sampled keys' positions in the cluster-contiguous (permuted) order, cluster by
    /// cluster; a head's first <see cref="Offsets"/>[g, KC] slots are its sample, the slots after them hold 0.
    /// </summary>
    public Tensor Positions { get; }

    /// <summary>[G, KC x m] int64: the key cluster of each slot of <see cref="Positions"/> (0 past a head's sample).</summary>
    public Tensor Clusters { get; }

    /// <summary>[G, KC + 1] int64: where each cluster's sampled keys start in <see cref="Positions"/>.</summary>
    public Tensor Offsets { get; }

    /// <summary>[G, KC] float32: ln(n_b / m_b) of each cluster's sampled keys (0 where the whole cluster is kept, and for empty clusters).</summary>
    public Tensor LogWeights { get; }

    /// <summary>m, the most keys sampled of a cluster.</summary>
    public int PerCluster { get; }

    /// <summary>Samples at most <paramref name="perCluster"/> keys of each of the first <paramref name="keyClusters"/> clusters of a layout.</summary>
    /// <param name="offsets">[G, L + 1] int64 layout offsets, L &gt;= <paramref name="keyClusters"/> (later clusters, such as text, are not sampled).</param>
    /// <param name="keyClusters">KC, the clusters sampled.</param>
    /// <param name="perCluster">m, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="perCluster"/> or <paramref name="keyClusters"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The offsets are not [G, L + 1] int64 with L &gt;= KC.</exception>
    public static ProbeKeySample Of(Tensor offsets, int keyClusters, int perCluster)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perCluster, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(keyClusters, 1);
        if (offsets.dim() != 2 || offsets.dtype != ScalarType.Int64 || offsets.shape[1] < keyClusters + 1)
            throw new ArgumentException($"Layout offsets must be [G, L + 1 >= {keyClusters + 1}] int64; got {TensorPredicates.Shape(offsets)} {offsets.dtype}.", nameof(offsets));
        using var scope = NewDisposeScope();
        long groups = offsets.shape[0], slots = (long)keyClusters * perCluster;
        var clusterOffsets = offsets.narrow(1, 0, keyClusters + 1);
        var starts = clusterOffsets.narrow(1, 0, keyClusters);
        var sizes = clusterOffsets.narrow(1, 1, keyClusters) - starts;
        var kept = sizes.clamp_max(perCluster);
        var sampledOffsets = cat([zeros([groups, 1], ScalarType.Int64, offsets.device), kept.cumsum(1)], 1);
        var slot = arange(slots, ScalarType.Int64, offsets.device).expand(groups, slots).contiguous();
        // The cluster of each slot: how many clusters end at or before it.
        var cluster = searchsorted(sampledOffsets.narrow(1, 1, keyClusters).contiguous(), slot, right: true);
        var inSample = cluster < keyClusters;
        cluster = cluster.clamp_max(keyClusters - 1);
        var index = slot - sampledOffsets.gather(1, cluster);
        var clusterSize = sizes.gather(1, cluster);
        var clusterKept = kept.gather(1, cluster).clamp_min(1);
        var position = starts.gather(1, cluster) + (2 * index + 1).mul(clusterSize).div(2 * clusterKept, rounding_mode: RoundingMode.floor);
        var zero = zeros_like(position);
        var logWeights = (sizes.to(ScalarType.Float64) / kept.clamp_min(1).to(ScalarType.Float64)).clamp_min(1).log().to(ScalarType.Float32);
        return new ProbeKeySample(where(inSample, position, zero).DetachFromDisposeScope(), where(inSample, cluster, zero).DetachFromDisposeScope(),
            sampledOffsets.DetachFromDisposeScope(), logWeights.DetachFromDisposeScope(), perCluster);
    }

    /// <summary>
    /// A sample built elsewhere in the layout of <see cref="Of"/> (a kernel's), owned by the result: [G, KC x m] int64
    /// positions and clusters, [G, KC + 1] int64 offsets, [G, KC] float32 log weights, on one device.
    /// </summary>
    public static ProbeKeySample FromParts(Tensor positions, Tensor clusters, Tensor offsets, Tensor logWeights, int perCluster)
    {
        long groups = offsets.shape[0], keyClusters = offsets.shape[1] - 1;
        if (offsets.dim() != 2 || keyClusters < 1 || !positions.shape.SequenceEqual(new[] { groups, keyClusters * perCluster })
            || !clusters.shape.SequenceEqual(positions.shape) || !logWeights.shape.SequenceEqual(new[] { groups, keyClusters })
            || positions.dtype != ScalarType.Int64 || clusters.dtype != ScalarType.Int64 || offsets.dtype != ScalarType.Int64 || logWeights.dtype != ScalarType.Float32)
            throw new ArgumentException($"A key sample of {perCluster} keys a cluster takes positions and clusters [G, KC x {perCluster}] int64, offsets [G, KC + 1] int64 " +
                $"and log weights [G, KC] float32; got {TensorPredicates.Shape(positions)} {positions.dtype}, {TensorPredicates.Shape(clusters)} {clusters.dtype}, " +
                $"{TensorPredicates.Shape(offsets)} {offsets.dtype}, {TensorPredicates.Shape(logWeights)} {logWeights.dtype}.");
        return new ProbeKeySample(positions, clusters, offsets, logWeights, perCluster);
    }

    /// <summary>[G, KC x m] int64: the sampled keys' rows in the original order, through the layout's <paramref name="permutation"/> [G, R].</summary>
    public Tensor Rows(Tensor permutation) => permutation.gather(1, Positions);

    /// <inheritdoc/>
    public void Dispose()
    {
        Positions.Dispose();
        Clusters.Dispose();
        Offsets.Dispose();
        LogWeights.Dispose();
    }
}
