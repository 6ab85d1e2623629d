using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// GPU-side description of the sparse attention work: per (problem, query cluster) the selected key
/// ranges (O(G x QC x KC) int32, never token indices), and the tile plan. Sized by maxima, so nothing
/// depends on values read back to the host.
/// </summary>
internal sealed class AttentionWorkspace : IDisposable
{
    /// <summary>
    /// Allocates the buffers for G problems with QC query and KC key clusters; with <paramref name="pairTails"/>, those of
    /// the tail pairing too (<see cref="Pairs"/>), unless QC exceeds <see cref="SparseAttentionTraits.MaxPairedQueryClusters"/>.
    /// </summary>
    public AttentionWorkspace(long groups, long queryClusters, long keyClusters, Device device, bool pairTails = false)
    {
        RangeStart = empty([groups, queryClusters, keyClusters], ScalarType.Int32, device);
        RangeEnd = empty([groups, queryClusters, keyClusters], ScalarType.Int32, device);
        RangeCount = empty([groups, queryClusters], ScalarType.Int32, device);
        SelectedKeys = empty([groups, queryClusters], ScalarType.Int32, device);
        KeptClusters = empty([groups, queryClusters], ScalarType.Int32, device);
        Order = empty([groups, queryClusters], ScalarType.Int32, device);
        TileStart = empty([groups, queryClusters + 1], ScalarType.Int32, device);
        if (pairTails && queryClusters <= SparseAttentionTraits.MaxPairedQueryClusters)
            Pairs = new TailPairBuffers(groups, queryClusters, keyClusters, device);
    }

    /// <summary>[G, QC, KC] first permuted key row of each selected range.</summary>
    public Tensor RangeStart { get; }

    /// <summary>[G, QC, KC] end of each range in the virtual (concatenated) key sequence.</summary>
    public Tensor RangeEnd { get; }

    /// <summary>[G, QC] number of ranges.</summary>
    public Tensor RangeCount { get; }

    /// <summary>[G, QC] selected key tokens of each query cluster.</summary>
    public Tensor SelectedKeys { get; }

    /// <summary>[G, QC] selected key clusters of each query cluster, among those the plan counts (the video ones).</summary>
    public Tensor KeptClusters { get; }

    /// <summary>[G, QC] query clusters, heaviest first.</summary>
    public Tensor Order { get; }

    /// <summary>[G, QC + 1] first tile of each cluster in <see cref="Order"/>; the last entry is the tile count.</summary>
    public Tensor TileStart { get; }

    /// <summary>The tail pairing and the paired plan of the Hopper kernels (bf16 and FP8), or null where the plan pairs no tails.</summary>
    public TailPairBuffers? Pairs { get; }

    /// <summary>Every buffer the workspace owns.</summary>
    public IEnumerable<Tensor> Buffers => [RangeStart, RangeEnd, RangeCount, SelectedKeys, KeptClusters, Order, TileStart, .. Pairs?.Buffers ?? []];

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var buffer in Buffers) buffer.Dispose();
    }
}
