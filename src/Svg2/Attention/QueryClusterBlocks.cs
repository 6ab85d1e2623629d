using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// What one query cluster attends in the reference's block-sparse attention, read on the host: its rows
/// in the permuted layout and the permuted key rows of its selected key clusters, in key-cluster order.
/// </summary>
/// <param name="Group">The problem g.</param>
/// <param name="Cluster">The query cluster.</param>
/// <param name="RowStart">First permuted query row of the cluster.</param>
/// <param name="RowCount">Its rows (at least 1).</param>
/// <param name="KeyRows">Permuted key rows of the selected clusters, concatenated in cluster order.</param>
/// <param name="CompensatedClusters">Key clusters (non-empty) approximated instead of attended, in order.</param>
internal readonly record struct QueryClusterBlocks(int Group, int Cluster, long RowStart, long RowCount, long[] KeyRows, long[] CompensatedClusters)
{
    /// <summary>
    /// Every non-empty query cluster with at least one attended key or compensated cluster, group by group.
    /// </summary>
    /// <param name="queryLayout">Clusters of the query rows.</param>
    /// <param name="keyLayout">Clusters of the key rows.</param>
    /// <param name="blockMask">[G, QC, KC] bool: the blocks attended exactly.</param>
    /// <param name="approximated">[G, QC, KC] bool: the blocks compensation approximates where not attended, or null.</param>
    public static IEnumerable<QueryClusterBlocks> Read(ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, Tensor? approximated = null)
    {
        long groups = blockMask.shape[0];
        int queryClusters = (int)queryLayout.Clusters, keyClusters = (int)keyLayout.Clusters;
        long[] queryOffsets = queryLayout.Offsets.cpu().data<long>().ToArray();
        long[] keyOffsets = keyLayout.Offsets.cpu().data<long>().ToArray();
        bool[] mask = blockMask.cpu().data<bool>().ToArray();
        bool[]? compensated = approximated?.cpu().data<bool>().ToArray();
        var keyRows = new List<long>();
        var compensatedClusters = new List<long>();
        for (int g = 0; g < groups; g++)
        {
            for (int i = 0; i < queryClusters; i++)
            {
                long rowStart = queryOffsets[g * (queryClusters + 1) + i];
                long rowCount = queryOffsets[g * (queryClusters + 1) + i + 1] - rowStart;
                if (rowCount == 0) continue;
                keyRows.Clear();
                compensatedClusters.Clear();
                for (int j = 0; j < keyClusters; j++)
                {
                    long block = ((long)g * queryClusters + i) * keyClusters + j;
                    long keyStart = keyOffsets[g * (keyClusters + 1) + j], keyEnd = keyOffsets[g * (keyClusters + 1) + j + 1];
                    if (mask[block])
                        for (long r = keyStart; r < keyEnd; r++) keyRows.Add(r);
                    else if (compensated?[block] == true && keyEnd > keyStart)
                        compensatedClusters.Add(j);
                }
                if (keyRows.Count == 0 && compensatedClusters.Count == 0) continue;
                yield return new QueryClusterBlocks(g, i, rowStart, rowCount, [.. keyRows], [.. compensatedClusters]);
            }
        }
    }
}
