using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// What the attention stage needs to add centroid compensation: the cluster means and the blocks
/// whose contribution is approximated instead of computed.
/// </summary>
/// <remarks>
/// For query row i of query cluster a and every block (a, b) in <see cref="Blocks"/> that is not also
/// computed exactly, the row's online softmax gains the term n_b exp(s_ib - m_i) in its denominator
/// and n_b exp(s_ib - m_i) v̄_b in its numerator, where s_ib = q_i . c_b / sqrt(D)
/// (<see cref="CompensationMode.PerRow"/>) or q̄_a . c_b / sqrt(D) (<see cref="CompensationMode.PerQueryCluster"/>)
/// and m_i is the row's running maximum over exact scores and compensation scores together. Clusters
/// of size 0 contribute nothing, and a row only ever reads the means of the clusters it compensates.
/// </remarks>
/// <param name="Mode">Per row or per query cluster; not <see cref="CompensationMode.None"/>.</param>
/// <param name="Means">Means over the layout's clusters (as many query and key clusters as the block mask).</param>
/// <param name="Blocks">[G, QC, KC] bool: the blocks to approximate when they are not computed exactly.</param>
/// <param name="Tail">
/// [G, QC, KC] bool, per-row compensation only: the blocks of <paramref name="Blocks"/> approximated per query
/// cluster instead (<see cref="CompensationTail"/>), so that only the rest costs a key per row; null: none.
/// </param>
public sealed record CentroidCompensation(CompensationMode Mode, ClusterMeans Means, Tensor Blocks, Tensor? Tail = null)
{
    /// <summary>Throws unless the compensation fits a block mask and value dimension.</summary>
    public void Validate(Tensor blockMask, long valueDim)
    {
        if (Mode == CompensationMode.None) throw new ArgumentException("A centroid compensation needs a mode other than None.");
        if (Blocks.dtype != ScalarType.Bool || !Blocks.shape.SequenceEqual(blockMask.shape))
            throw new ArgumentException($"Compensated blocks must be bool {TensorPredicates.Shape(blockMask)} like the block mask; got {Blocks.dtype} {TensorPredicates.Shape(Blocks)}.");
        if (Tail is { } tail && (Mode != CompensationMode.PerRow || tail.dtype != ScalarType.Bool || !tail.shape.SequenceEqual(blockMask.shape)))
            throw new ArgumentException($"A compensation tail goes with per-row compensation and must be bool {TensorPredicates.Shape(blockMask)} like the block mask; " +
                $"got {tail.dtype} {TensorPredicates.Shape(tail)} with {Mode} compensation.");
        if (Means.QueryClusters != blockMask.shape[1] || Means.KeyClusters != blockMask.shape[2] || Means.ValueMeans.shape[2] != valueDim)
            throw new ArgumentException($"Cluster means cover {Means.QueryClusters} query and {Means.KeyClusters} key clusters with values of {Means.ValueMeans.shape[2]}; the block mask is {TensorPredicates.Shape(blockMask)} and values have {valueDim}.");
    }

    /// <summary>
    /// [G, QC, KC] bool: the blocks <paramref name="blockMask"/> leaves out that this compensation approximates
    /// with one key per row; null when there are none by construction (per query cluster). The caller disposes it.
    /// </summary>
    public Tensor? RowBlocks(Tensor blockMask)
    {
        if (Mode != CompensationMode.PerRow) return null;
        using var scope = NewDisposeScope();
        var approximated = Blocks & blockMask.logical_not();
        if (Tail is { } tail) approximated &= tail.logical_not();
        return approximated.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// [G, QC, KC] bool: the blocks <paramref name="blockMask"/> leaves out that this compensation folds into one
    /// term per query cluster (every one per query cluster, the tail per row); null when there are none by
    /// construction. The caller disposes it.
    /// </summary>
    public Tensor? ClusterBlocks(Tensor blockMask)
    {
        if (Mode == CompensationMode.PerRow && Tail is null) return null;
        using var scope = NewDisposeScope();
        var approximated = Blocks & blockMask.logical_not();
        if (Mode == CompensationMode.PerRow) approximated &= Tail!;
        return approximated.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The per-query-cluster terms of the blocks this compensation folds per query cluster (<see cref="ClusterBlocks"/>);
    /// null when there are none by construction.
    /// </summary>
    public ClusterCompensationTerms? ClusterTerms(Tensor blockMask, double scale)
    {
        using var approximated = ClusterBlocks(blockMask);
        return approximated is null ? null
            : ClusterCompensationTerms.Of(Means.QueryMeans, Means.KeyMeans, Means.ValueMeans, Means.KeySizes, approximated, scale);
    }
}
