using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// The tail pairing of the Hopper plan (tail_pairs.cu): which query clusters share a tile for their last, partial
/// halves, the range lists of the pairs' union of keys, and the tile starts of the plan with pair tiles.
/// </summary>
internal sealed class TailPairBuffers
{
    /// <summary>Allocates the buffers for G problems with QC query and KC key clusters.</summary>
    public TailPairBuffers(long groups, long queryClusters, long keyClusters, Device device)
    {
        Capacity = SparseAttentionTraits.PairCapacity(queryClusters);
        MaskBits = empty([groups, queryClusters, SparseAttentionTraits.MaskWords(keyClusters)], ScalarType.Int32, device);
        Candidates = empty([groups, queryClusters, queryClusters], ScalarType.Int32, device);
        CandidateCount = empty([groups, queryClusters], ScalarType.Int32, device);
        Partner = empty([groups, queryClusters], ScalarType.Int32, device);
        Slot = empty([groups, queryClusters], ScalarType.Int32, device);
        RangeStart = empty([groups, Capacity, keyClusters], ScalarType.Int32, device);
        RangeEnd = empty([groups, Capacity, keyClusters], ScalarType.Int32, device);
        RangeCount = empty([groups, Capacity], ScalarType.Int32, device);
        Bounds = empty([groups, Capacity, 2], ScalarType.Int32, device);
        TileStart = empty([groups, queryClusters + 1], ScalarType.Int32, device);
    }

    /// <summary>Pair slots per problem: at most one pair per two query clusters.</summary>
    public int Capacity { get; }

    /// <summary>[G, QC, ceil(KC / 32)] the block mask's rows as bits.</summary>
    public Tensor MaskBits { get; }

    /// <summary>
    /// [G, QC, QC] per cluster with a tail, the clusters whose tails fit one half tile beside it and that select keys in
    /// common with it, the most shared keys first (then by id); the first <see cref="CandidateCount"/> entries are set.
    /// </summary>
    public Tensor Candidates { get; }

    /// <summary>[G, QC] number of each cluster's candidates.</summary>
    public Tensor CandidateCount { get; }

    /// <summary>[G, QC] the cluster sharing a tile with this one's tail, or -1.</summary>
    public Tensor Partner { get; }

    /// <summary>[G, QC] the pair's slot in the pair range lists, for the lower cluster of a pair; -1 elsewhere.</summary>
    public Tensor Slot { get; }

    /// <summary>[G, slots, KC] first permuted key row of each range of a pair's union of keys.</summary>
    public Tensor RangeStart { get; }

    /// <summary>[G, slots, KC] end of each range in the pair's virtual key sequence.</summary>
    public Tensor RangeEnd { get; }

    /// <summary>[G, slots] number of ranges.</summary>
    public Tensor RangeCount { get; }

    /// <summary>[G, slots, 2] where the keys both clusters select begin and end in the pair's virtual key sequence.</summary>
    public Tensor Bounds { get; }

    /// <summary>[G, QC + 1] first tile of each cluster of the plan's order with pair tiles; the last entry is the tile count.</summary>
    public Tensor TileStart { get; }

    /// <summary>Every buffer.</summary>
    public IEnumerable<Tensor> Buffers => [MaskBits, Candidates, CandidateCount, Partner, Slot, RangeStart, RangeEnd, RangeCount, Bounds, TileStart];
}
