using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// A block-sparse pattern: query row r may attend key row c when
/// <c>BlockMask[g, QueryLabels[g, r], KeyLabels[g, c]]</c>. SVG2, the position-block baseline and the
/// local-window baseline all have this form.
/// </summary>
/// <param name="QueryLabels">[G, Nq] int64 block of every query row (original order).</param>
/// <param name="KeyLabels">[G, Nk] int64 block of every key row (original order).</param>
/// <param name="BlockMask">[G, Cq, Ck] bool.</param>
public sealed record BlockSparsity(Tensor QueryLabels, Tensor KeyLabels, Tensor BlockMask) : ISparsityPattern, IDisposable
{
    /// <summary>
    /// [G] float64 share of query clusters the selection rule's fixed minimum held at the floor
    /// (<see cref="SelectionFloor"/>), or null for a pattern without a minimum. Owned by the pattern.
    /// </summary>
    public Tensor? FloorShare { get; init; }

    /// <inheritdoc/>
    public Tensor Allowed(Tensor rows, Tensor probabilities)
    {
        using var scope = NewDisposeScope();
        long groups = BlockMask.shape[0], keyBlocks = BlockMask.shape[2];
        var rowLabels = QueryLabels.index_select(1, rows);
        var rowMasks = BlockMask.gather(1, rowLabels.unsqueeze(-1).expand(groups, rows.shape[0], keyBlocks));
        var keyLabels = KeyLabels.unsqueeze(1).expand(groups, rows.shape[0], KeyLabels.shape[1]);
        return rowMasks.gather(2, keyLabels).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Per group, <c>sum_ij mask[i, j] |Q_i| |K_j| / (Nq Nk)</c>: the specification's density,
    /// text and padding blocks included when present.
    /// </summary>
    public Tensor Density()
    {
        using var scope = NewDisposeScope();
        var querySizes = BlockSizes(QueryLabels, BlockMask.shape[1]);
        var keySizes = BlockSizes(KeyLabels, BlockMask.shape[2]);
        var computed = querySizes.unsqueeze(1).bmm(BlockMask.to(ScalarType.Float64)).bmm(keySizes.unsqueeze(2)).reshape(-1);
        return (computed / ((double)QueryLabels.shape[1] * KeyLabels.shape[1])).MoveToOuterDisposeScope();
    }

    static Tensor BlockSizes(Tensor labels, long blocks) =>
        zeros([labels.shape[0], blocks], ScalarType.Float64, labels.device)
            .scatter_add_(1, labels, ones(labels.shape, ScalarType.Float64, labels.device));

    /// <summary>Moves the tensors to the enclosing dispose scope's parent.</summary>
    public BlockSparsity MoveToOuterDisposeScope()
    {
        QueryLabels.MoveToOuterDisposeScope();
        KeyLabels.MoveToOuterDisposeScope();
        BlockMask.MoveToOuterDisposeScope();
        FloorShare?.MoveToOuterDisposeScope();
        return this;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        QueryLabels.Dispose();
        KeyLabels.Dispose();
        BlockMask.Dispose();
        FloorShare?.Dispose();
    }
}
