using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// The gathering strategy of <see cref="VariableBlockAttention"/>: one query cluster at a time, its rows
/// attend the concatenation of the row ranges of the key clusters it selected (and the compensation columns
/// of the clusters it approximates), with an exact float32 softmax. Only selected blocks are computed, and
/// the largest temporary is one cluster's rows by its selected keys; the copies of the selected keys and
/// values cost more than the products on a CPU once a head is dense.
/// </summary>
internal static class GatheredBlockAttention
{
    /// <summary>Writes the attention of every query row of <paramref name="group"/> into <paramref name="output"/> [Nq, Dv] (permuted, zeroed).</summary>
    public static void Attend(BlockAttentionProblem problem, int group, Tensor output)
    {
        var device = problem.Queries.device;
        int queryClusters = (int)problem.QueryLayout.Clusters, keyClusters = (int)problem.KeyLayout.Clusters;
        // The block structure of the head on the host: row ranges, computed and compensated blocks.
        long[] queryOffsets = HostArray<long>(problem.QueryLayout.Offsets[group]);
        long[] keyOffsets = HostArray<long>(problem.KeyLayout.Offsets[group]);
        bool[] computed = HostArray<bool>(problem.BlockMask[group]);
        bool[]? compensated = problem.Compensation is { } compensation
            ? HostArray<bool>(compensation.Blocks[group] & problem.BlockMask[group].logical_not())
            : null;
        var keyRows = new List<long>();
        var compensatedClusters = new List<long>();
        for (int i = 0; i < queryClusters; i++)
        {
            long rowStart = queryOffsets[i], rowCount = queryOffsets[i + 1] - rowStart;
            if (rowCount == 0) continue;
            keyRows.Clear();
            compensatedClusters.Clear();
            for (int j = 0; j < keyClusters; j++)
            {
                long keyStart = keyOffsets[j], keyEnd = keyOffsets[j + 1];
                if (computed[i * keyClusters + j])
                    for (long r = keyStart; r < keyEnd; r++) keyRows.Add(r);
                else if (keyEnd > keyStart && compensated?[i * keyClusters + j] == true)
                    compensatedClusters.Add(j);
            }
            if (keyRows.Count == 0 && compensatedClusters.Count == 0) continue;
            using var inner = NewDisposeScope();
            var rows = problem.Queries[group].narrow(0, rowStart, rowCount);
            var index = tensor(keyRows.ToArray(), ScalarType.Int64, device);
            var logits = rows.matmul(problem.Keys[group].index_select(0, index).t()) * problem.Scale;
            var values = problem.Values[group].index_select(0, index);
            if (compensatedClusters.Count > 0)
            {
                var (centroidLogits, means) = CompensationTerms(problem.Compensation!, problem.KeyLayout.Sizes, group, i, rows,
                    tensor(compensatedClusters.ToArray(), ScalarType.Int64, device), problem.Scale);
                logits = cat([logits, centroidLogits], 1);
                values = cat([values, means], 0);
            }
            output.narrow(0, rowStart, rowCount).copy_(logits.softmax(-1).matmul(values));
        }
    }

    static T[] HostArray<T>(Tensor x) where T : unmanaged
    {
        using var host = x.cpu().contiguous();
        return host.data<T>().ToArray();
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
}
