using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// One call of <see cref="VariableBlockAttention"/> in the permuted layout, as both of its strategies read it:
/// float32 rows sorted by cluster, the block mask on the device and on the host, and the row range of every
/// cluster on the host.
/// </summary>
/// <param name="Queries">[G, Nq, D] float32, permuted.</param>
/// <param name="Keys">[G, Nk, D] float32, permuted.</param>
/// <param name="Values">[G, Nk, Dv] float32, permuted.</param>
/// <param name="QueryLayout">Clusters of the query rows.</param>
/// <param name="KeyLayout">Clusters of the key rows.</param>
/// <param name="BlockMask">[G, QC, KC] bool: the blocks computed exactly.</param>
/// <param name="Scale">Softmax scale.</param>
/// <param name="Compensation">Centroid compensation of blocks not computed exactly, or null.</param>
internal sealed record BlockAttentionProblem(Tensor Queries, Tensor Keys, Tensor Values, ClusterLayout QueryLayout, ClusterLayout KeyLayout,
    Tensor BlockMask, double Scale, CentroidCompensation? Compensation)
{
    /// <summary>[G x (QC + 1)]: the permuted row where each query cluster starts, and the end.</summary>
    public long[] QueryOffsets { get; } = QueryLayout.Offsets.cpu().data<long>().ToArray();

    /// <summary>[G x (KC + 1)]: the permuted row where each key cluster starts, and the end.</summary>
    public long[] KeyOffsets { get; } = KeyLayout.Offsets.cpu().data<long>().ToArray();

    /// <summary>[G x QC x KC]: <see cref="BlockMask"/> on the host.</summary>
    public bool[] Mask { get; } = BlockMask.cpu().data<bool>().ToArray();

    /// <summary>[G x QC x KC]: the blocks compensated instead of computed (never in the mask), or null without compensation.</summary>
    public bool[]? Approximated { get; } = Compensation is null ? null : (Compensation.Blocks & BlockMask.logical_not()).cpu().data<bool>().ToArray();

    /// <summary>Query clusters QC (held: a tensor's shape is a native call, and the gathering strategy asks per block).</summary>
    public int QueryClusters { get; } = (int)QueryLayout.Clusters;

    /// <summary>Key clusters KC.</summary>
    public int KeyClusters { get; } = (int)KeyLayout.Clusters;

    /// <summary>The first permuted row of query cluster <paramref name="cluster"/> of group <paramref name="group"/>, and its row count.</summary>
    public (long Start, long Count) QueryRows(int group, int cluster)
    {
        long start = QueryOffsets[group * (QueryClusters + 1) + cluster];
        return (start, QueryOffsets[group * (QueryClusters + 1) + cluster + 1] - start);
    }

    /// <summary>The first permuted row of key cluster <paramref name="cluster"/> of group <paramref name="group"/>, and its row count.</summary>
    public (long Start, long Count) KeyRows(int group, int cluster)
    {
        long start = KeyOffsets[group * (KeyClusters + 1) + cluster];
        return (start, KeyOffsets[group * (KeyClusters + 1) + cluster + 1] - start);
    }

    /// <summary>Whether block (<paramref name="queryCluster"/>, <paramref name="keyCluster"/>) of <paramref name="group"/> is computed exactly.</summary>
    public bool Computed(int group, int queryCluster, int keyCluster) => Mask[((long)group * QueryClusters + queryCluster) * KeyClusters + keyCluster];

    /// <summary>Whether the block is compensated (approximated from the key cluster's means) instead.</summary>
    public bool Compensated(int group, int queryCluster, int keyCluster) =>
        Approximated?[((long)group * QueryClusters + queryCluster) * KeyClusters + keyCluster] == true;
}
