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
        using var scope = NewDisposeScope();
        var device = problem.Queries.device;
        // Only this head's block structure goes to the host.
        var (queryLayout, keyLayout) = (Head(problem.QueryLayout, group), Head(problem.KeyLayout, group));
        var blockMask = problem.BlockMask.narrow(0, group, 1);
        var approximated = (problem.RowCompensated, problem.ClusterCompensated) switch
        {
            (null, null) => null,
            ({ } perRow, null) => perRow.narrow(0, group, 1),
            (null, { } perCluster) => perCluster.narrow(0, group, 1),
            ({ } perRow, { } perCluster) => perRow.narrow(0, group, 1) | perCluster.narrow(0, group, 1),
        };
        var (queries, keys, values) = (problem.Queries[group], problem.Keys[group], problem.Values[group]);
        foreach (var work in QueryClusterBlocks.Read(queryLayout, keyLayout, blockMask, approximated))
        {
            using var inner = NewDisposeScope();
            var rows = queries.narrow(0, work.RowStart, work.RowCount);
            var index = tensor(work.KeyRows, ScalarType.Int64, device);
            var logits = rows.matmul(keys.index_select(0, index).t()) * problem.Scale;
            var selected = values.index_select(0, index);
            if (work.CompensatedClusters.Length > 0)
            {
                var (centroidLogits, means) = CompensationTerms(problem, group, work.Cluster, rows, tensor(work.CompensatedClusters, ScalarType.Int64, device));
                logits = cat([logits, centroidLogits], 1);
                selected = cat([selected, means], 0);
            }
            output.narrow(0, work.RowStart, work.RowCount).copy_(logits.softmax(-1).matmul(selected));
        }
    }

    /// <summary>The layout of one head, as a layout of one problem.</summary>
    static ClusterLayout Head(ClusterLayout layout, int group) =>
        new(layout.Permutation.narrow(0, group, 1), layout.Sizes.narrow(0, group, 1), layout.Offsets.narrow(0, group, 1));

    /// <summary>
    /// The compensation columns of one query cluster: each compensated key cluster b acts as one
    /// extra key of logit s_b + log n_b and value v̄_b, so the softmax over exact and extra columns
    /// merges both with one running maximum; s_b is each row's own score q_i . c_b x scale for the blocks
    /// compensated per row, and the query cluster mean's for those compensated per query cluster. Only the
    /// clusters listed are read.
    /// </summary>
    static (Tensor Logits, Tensor Values) CompensationTerms(BlockAttentionProblem problem, int group, int queryCluster, Tensor rows, Tensor clusters)
    {
        var means = problem.Compensation!.Means;
        var centroids = means.KeyMeans[group].index_select(0, clusters);
        var logSizes = problem.KeyLayout.Sizes[group].index_select(0, clusters).to(ScalarType.Float32).log();
        Tensor RowLogits() => rows.matmul(centroids.t()) * problem.Scale + logSizes;
        Tensor ClusterLogits() => (means.QueryMeans[group].narrow(0, queryCluster, 1).matmul(centroids.t()) * problem.Scale + logSizes).expand(rows.shape[0], -1);
        var logits = problem.ClusterCompensated is not { } perCluster ? RowLogits()
            : problem.RowCompensated is null ? ClusterLogits()
            : where(perCluster[group][queryCluster].index_select(0, clusters).unsqueeze(0), ClusterLogits(), RowLogits());
        return (logits, means.ValueMeans[group].index_select(0, clusters));
    }
}
