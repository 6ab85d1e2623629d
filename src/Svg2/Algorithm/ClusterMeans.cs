using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// Float32 member means of every cluster, the summaries centroid compensation stands on: the query
/// means (for the per-query-cluster variant and the routing probe), the key means c_b and the mean
/// values v̄_b of the keys of each key cluster, and the cluster sizes (n_b for key clusters).
/// </summary>
/// <remarks>
/// Key and value means come from one segmented sum over the concatenated [k | v] rows, so they
/// describe exactly the same members. An empty cluster has size 0 and means of 0 (never NaN), and is
/// never compensated.
/// </remarks>
/// <param name="QueryMeans">[G, QC, D] float32.</param>
/// <param name="QuerySizes">[G, QC] int64.</param>
/// <param name="KeyMeans">[G, KC, D] float32.</param>
/// <param name="ValueMeans">[G, KC, Dv] float32.</param>
/// <param name="KeySizes">[G, KC] int64.</param>
public sealed record ClusterMeans(Tensor QueryMeans, Tensor QuerySizes, Tensor KeyMeans, Tensor ValueMeans, Tensor KeySizes) : IDisposable
{
    /// <summary>Query clusters QC.</summary>
    public long QueryClusters => QueryMeans.shape[1];

    /// <summary>Key clusters KC.</summary>
    public long KeyClusters => KeyMeans.shape[1];

    /// <summary>The means of the clusters given by labels over the rows of q, k and v.</summary>
    /// <param name="q">[G, Nq, D].</param>
    /// <param name="k">[G, Nk, D].</param>
    /// <param name="v">[G, Nk, Dv].</param>
    /// <param name="queryLabels">[G, Nq] int64 in [0, <paramref name="queryClusters"/>).</param>
    /// <param name="keyLabels">[G, Nk] int64 in [0, <paramref name="keyClusters"/>).</param>
    /// <param name="queryClusters">QC.</param>
    /// <param name="keyClusters">KC.</param>
    public static ClusterMeans Of(Tensor q, Tensor k, Tensor v, Tensor queryLabels, Tensor keyLabels, int queryClusters, int keyClusters)
    {
        if (q.dim() != 3 || k.dim() != 3 || v.dim() != 3 || queryLabels.dim() != 2 || keyLabels.dim() != 2)
            throw new ArgumentException($"Cluster means need q, k, v [G, N, D] and labels [G, N]; got q {TensorPredicates.Shape(q)}, k {TensorPredicates.Shape(k)}, v {TensorPredicates.Shape(v)}, labels {TensorPredicates.Shape(queryLabels)} and {TensorPredicates.Shape(keyLabels)}.");
        if (queryLabels.shape[1] != q.shape[1] || keyLabels.shape[1] != k.shape[1] || k.shape[1] != v.shape[1])
            throw new ArgumentException($"Labels {TensorPredicates.Shape(queryLabels)} and {TensorPredicates.Shape(keyLabels)} do not cover q {TensorPredicates.Shape(q)}, k {TensorPredicates.Shape(k)} and v {TensorPredicates.Shape(v)}.");
        using var scope = NewDisposeScope();
        long dim = k.shape[2];
        var query = SegmentSums(q.to(ScalarType.Float32), queryLabels, queryClusters);
        var keyValue = SegmentSums(cat([k.to(ScalarType.Float32), v.to(ScalarType.Float32)], 2), keyLabels, keyClusters);
        var keyValueMeans = Means(keyValue);
        var result = new ClusterMeans(Means(query), query.Sizes, keyValueMeans.narrow(2, 0, dim).contiguous(), keyValueMeans.narrow(2, dim, v.shape[2]).contiguous(), keyValue.Sizes);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Per-cluster member sums [G, C, F] float32 and member counts [G, C] int64 of float32 rows
    /// <paramref name="x32"/> [G, N, F]: the segmented sum both k-means and the compensation means use.
    /// </summary>
    internal static (Tensor Sums, Tensor Sizes) SegmentSums(Tensor x32, Tensor labels, long clusters)
    {
        long groups = x32.shape[0], features = x32.shape[2];
        // index_add_ over the flattened (group, cluster) rows is several times faster than a
        // scatter_add_ with an expanded index on the CPU.
        var rows = (labels + arange(groups, ScalarType.Int64, labels.device).unsqueeze(1) * clusters).reshape(-1);
        var sums = zeros([groups * clusters, features], ScalarType.Float32, x32.device).index_add_(0, rows, x32.reshape(-1, features), 1);
        var sizes = zeros([groups * clusters], ScalarType.Int64, x32.device).index_add_(0, rows, ones(rows.shape, ScalarType.Int64, rows.device), 1);
        return (sums.reshape(groups, clusters, features), sizes.reshape(groups, clusters));
    }

    /// <summary>Sums divided by counts; 0 for an empty cluster.</summary>
    internal static Tensor Means((Tensor Sums, Tensor Sizes) segments) =>
        segments.Sums / segments.Sizes.clamp_min(1).unsqueeze(-1).to(ScalarType.Float32);

    /// <summary>
    /// The same means for a layout with more clusters (text blocks appended after the video clusters):
    /// the added clusters get size 0 and zero means, so they are never compensated.
    /// </summary>
    public ClusterMeans PadTo(long queryClusters, long keyClusters)
    {
        if (queryClusters < QueryClusters || keyClusters < KeyClusters)
            throw new ArgumentException($"Cannot pad means of {QueryClusters} query and {KeyClusters} key clusters to {queryClusters} and {keyClusters}.");
        using var scope = NewDisposeScope();
        var padded = new ClusterMeans(Pad(QueryMeans, queryClusters), Pad(QuerySizes, queryClusters), Pad(KeyMeans, keyClusters), Pad(ValueMeans, keyClusters), Pad(KeySizes, keyClusters));
        return padded.MoveToOuterDisposeScope();
    }

    static Tensor Pad(Tensor x, long clusters)
    {
        if (x.shape[1] == clusters) return x.alias();
        long[] shape = [.. x.shape];
        shape[1] = clusters - x.shape[1];
        return cat([x, zeros(shape, x.dtype, x.device)], 1);
    }

    /// <summary>Moves the tensors to the enclosing dispose scope's parent.</summary>
    public ClusterMeans MoveToOuterDisposeScope()
    {
        QueryMeans.MoveToOuterDisposeScope();
        QuerySizes.MoveToOuterDisposeScope();
        KeyMeans.MoveToOuterDisposeScope();
        ValueMeans.MoveToOuterDisposeScope();
        KeySizes.MoveToOuterDisposeScope();
        return this;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        QueryMeans.Dispose();
        QuerySizes.Dispose();
        KeyMeans.Dispose();
        ValueMeans.Dispose();
        KeySizes.Dispose();
    }
}
