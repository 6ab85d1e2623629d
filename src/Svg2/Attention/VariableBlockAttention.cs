using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// Exact block-sparse attention whose blocks are variable-size clusters, in TorchSharp operations:
/// the portable reference of the attention stage.
/// </summary>
/// <remarks>
/// Works in the permuted layout, one query cluster at a time: the rows of query cluster i attend
/// the concatenation of the row ranges of the key clusters it selected, with an exact float32
/// softmax. Only selected blocks are computed, and the largest temporary is one cluster's rows by
/// its selected keys. The block structure is read on the host, which is fine for a reference
/// path and is exactly what a fast backend avoids.
/// </remarks>
public static class VariableBlockAttention
{
    /// <summary>Computes the attention; see <see cref="Backends.ISvg2Backend.BlockSparseAttention"/>.</summary>
    /// <param name="q">[G, Nq, D] in original token order.</param>
    /// <param name="k">[G, Nk, D] in original token order.</param>
    /// <param name="v">[G, Nk, Dv] in original token order.</param>
    /// <param name="queryLayout">Clusters of the query rows.</param>
    /// <param name="keyLayout">Clusters of the key rows.</param>
    /// <param name="blockMask">[G, QC, KC] bool: the blocks computed exactly.</param>
    /// <param name="scale">Softmax scale.</param>
    /// <param name="compensation">Centroid compensation of blocks not computed exactly, or null (SVG2).</param>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale,
        CentroidCompensation? compensation = null)
    {
        Validate(q, k, v, queryLayout, keyLayout, blockMask);
        compensation?.Validate(blockMask, v.shape[2]);
        using var scope = NewDisposeScope();
        var qp = ClusterPermutation.Apply(q, queryLayout.Permutation).to(ScalarType.Float32);
        var kp = ClusterPermutation.Apply(k, keyLayout.Permutation).to(ScalarType.Float32);
        var vp = ClusterPermutation.Apply(v, keyLayout.Permutation).to(ScalarType.Float32);
        var approximated = compensation is null ? null : compensation.Blocks & blockMask.logical_not();
        var output = zeros([q.shape[0], q.shape[1], v.shape[2]], ScalarType.Float32, q.device);
        foreach (var work in QueryClusterBlocks.Read(queryLayout, keyLayout, blockMask, approximated))
        {
            using var inner = NewDisposeScope();
            int g = work.Group;
            var rows = qp[g].narrow(0, work.RowStart, work.RowCount);
            var index = tensor(work.KeyRows, ScalarType.Int64, q.device);
            var logits = rows.matmul(kp[g].index_select(0, index).t()) * scale;
            var values = vp[g].index_select(0, index);
            if (work.CompensatedClusters.Length > 0)
            {
                var (centroidLogits, means) = CompensationTerms(compensation!, keyLayout.Sizes, g, work.Cluster, rows,
                    tensor(work.CompensatedClusters, ScalarType.Int64, q.device), scale);
                logits = cat([logits, centroidLogits], 1);
                values = cat([values, means], 0);
            }
            output[g].narrow(0, work.RowStart, work.RowCount).copy_(logits.softmax(-1).matmul(values));
        }
        return ClusterPermutation.Invert(output, queryLayout.Permutation).to(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The compensation columns of one query cluster: each compensated key cluster b acts as one
    /// extra key of logit s_b + log n_b and value v̄_b, so the softmax over exact and extra columns
    /// merges both with one running maximum. Only the clusters listed are read.
    /// </summary>
    static (Tensor Logits, Tensor Values) CompensationTerms(CentroidCompensation compensation, Tensor keySizes, int group, int queryCluster, Tensor rows, Tensor clusters, double scale)
    {
        var means = compensation.Means;
        var centroids = means.KeyMeans[group].index_select(0, clusters);
        var logSizes = keySizes[group].index_select(0, clusters).to(ScalarType.Float32).log();
        var scorer = compensation.Mode == CompensationMode.PerRow ? rows : means.QueryMeans[group].narrow(0, queryCluster, 1);
        var logits = (scorer.matmul(centroids.t()) * scale + logSizes).expand(rows.shape[0], -1);
        return (logits, means.ValueMeans[group].index_select(0, clusters));
    }

    internal static void Validate(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask)
    {
        if (q.dim() != 3 || k.dim() != 3 || v.dim() != 3)
            throw new ArgumentException($"q, k, v must be [G, N, D]; got [{string.Join(", ", q.shape)}], [{string.Join(", ", k.shape)}], [{string.Join(", ", v.shape)}].");
        if (q.shape[0] != k.shape[0] || k.shape[0] != v.shape[0] || q.shape[2] != k.shape[2] || k.shape[1] != v.shape[1])
            throw new ArgumentException($"q [{string.Join(", ", q.shape)}], k [{string.Join(", ", k.shape)}] and v [{string.Join(", ", v.shape)}] disagree in groups, head dimension or key count.");
        if (queryLayout.Tokens != q.shape[1] || keyLayout.Tokens != k.shape[1])
            throw new ArgumentException($"Cluster layouts cover {queryLayout.Tokens} query and {keyLayout.Tokens} key rows; the inputs have {q.shape[1]} and {k.shape[1]}.");
        if (blockMask.dtype != ScalarType.Bool || blockMask.dim() != 3 || blockMask.shape[0] != q.shape[0]
            || blockMask.shape[1] != queryLayout.Clusters || blockMask.shape[2] != keyLayout.Clusters)
            throw new ArgumentException($"Block mask must be bool [{q.shape[0]}, {queryLayout.Clusters}, {keyLayout.Clusters}]; got {blockMask.dtype} [{string.Join(", ", blockMask.shape)}].");
    }
}
