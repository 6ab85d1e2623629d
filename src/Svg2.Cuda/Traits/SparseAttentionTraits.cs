using Svg2.Cuda.Runtime;

namespace Svg2.Cuda.Traits;

/// <summary>
/// The compile-time shape of the sparse attention for one head dimension and tuning: the planning
/// kernels and the portable kernel of attention.cu, the Hopper kernel of attention_hopper.cu, their
/// macros, launch geometry and dynamic shared memory.
/// </summary>
internal sealed class SparseAttentionTraits
{
    /// <summary>Threads of svg2_key_ranges and svg2_centroid_keys (one block per query cluster).</summary>
    public const int RangeThreads = 128;

    /// <summary>Threads of svg2_plan_tiles (one block per problem).</summary>
    public const int PlanThreads = 1024;

    /// <summary>Query rows per tile of the portable kernel.</summary>
    public const int PortableTileRows = 64;

    /// <summary>K/V tiles in flight in the portable kernel (double buffering).</summary>
    const int KeyValueBuffers = 2;

    /// <summary>Consumer warpgroups of the Hopper kernel, each owning 64 query rows of a tile; one producer warpgroup gathers.</summary>
    const int HopperConsumers = 2;

    /// <summary>Query rows per tile of the Hopper kernel.</summary>
    public const int HopperTileRows = HopperConsumers * HopperTraits.WarpgroupRows;

    /// <summary>Threads of the Hopper kernel: the producer and the consumer warpgroups.</summary>
    public const int HopperThreads = (1 + HopperConsumers) * HopperTraits.WarpgroupThreads;

    /// <summary>Keys per K/V tile of the Hopper kernels (N of S).</summary>
    public const int HopperTileKeys = 128;

    /// <summary>K/V stages of the Hopper kernels.</summary>
    public const int HopperStages = 2;

    /// <summary>
    /// Token lists of the Hopper kernels' producer: the bf16 kernel's producer gathers tile j's K and tile j - 1's V
    /// while it fills tile j + 1's list.
    /// </summary>
    public const int HopperTokenSlots = 3;

    const int HopperBarriers = 4 * HopperStages + 1;   // K and V landed and read per stage, Q full

    /// <summary>The shape for head dimension <paramref name="headDim"/> and the portable kernel's <paramref name="tuning"/>.</summary>
    public SparseAttentionTraits(int headDim, AttentionTuning tuning) => (HeadDim, Tuning) = (headDim, tuning);

    /// <summary>Head dimension D.</summary>
    public int HeadDim { get; }

    /// <summary>The portable kernel's tuning.</summary>
    public AttentionTuning Tuning { get; }

    /// <summary>Threads of the portable kernel with <paramref name="warpRows"/> query rows per warp.</summary>
    public static int PortableThreadsFor(int warpRows) => PortableTileRows / warpRows * KernelTraits.WarpSize;

    /// <summary>Query rows per tile of the attention kernel of <paramref name="family"/>.</summary>
    public static int TileRows(KernelFamily family) => family == KernelFamily.Hopper ? HopperTileRows : PortableTileRows;

    /// <summary>The attention kernel of <paramref name="family"/> and its threads per block.</summary>
    public (string Kernel, int Threads) Launch(KernelFamily family) => family == KernelFamily.Hopper
        ? ("svg2_sparse_attention_hopper", HopperThreads)
        : ("svg2_sparse_attention", PortableThreadsFor(Tuning.WarpRows));

    /// <summary>
    /// Dynamic shared memory of one attention block: the Q tile, the K/V stages, token lists, barriers
    /// (Hopper), the query cluster's range list (8 bytes per key cluster) and, with per-row
    /// compensation (Hopper), its centroid key list and biases (8 bytes per key cluster).
    /// </summary>
    public int SharedBytes(KernelFamily family, int keyClusters, bool centroidKeys = false)
    {
        int rowBytes = HeadDim * 2, rangeBytes = 2 * keyClusters * sizeof(int);
        if (family == KernelFamily.Hopper)
            return HopperTraits.SharedAlignment + (HopperTileRows + 2 * HopperStages * HopperTileKeys) * rowBytes + HopperTokenSlots * HopperTileKeys * sizeof(int)
                   + HopperBarriers * HopperTraits.BarrierBytes + rangeBytes + (centroidKeys ? keyClusters * (sizeof(int) + sizeof(float)) : 0);
        return PortableTileRows * rowBytes + KeyValueBuffers * Tuning.BlockKeys * (2 * rowBytes + sizeof(int)) + rangeBytes;
    }

    /// <summary>The macros of attention.cu: the planning kernels and the portable attention.</summary>
    public IReadOnlyList<KernelMacro> PortableMacros =>
    [
        new("SVG2_ATTENTION_TILE_ROWS", PortableTileRows), new("SVG2_ATTENTION_BLOCK_KEYS", Tuning.BlockKeys),
        new("SVG2_ATTENTION_WARP_ROWS", Tuning.WarpRows), new("SVG2_ATTENTION_MIN_BLOCKS", Tuning.MinBlocks),
        new("SVG2_ATTENTION_KEY_VALUE_BUFFERS", KeyValueBuffers),
        new("SVG2_ATTENTION_RANGE_THREADS", RangeThreads), new("SVG2_ATTENTION_PLAN_THREADS", PlanThreads),
    ];

    /// <summary>Threads of svg2_tail_candidates and svg2_pair_ranges (one block per query cluster).</summary>
    public const int TailPairThreads = 128;

    /// <summary>Threads of svg2_pair_tails (one block per problem, a thread per query cluster).</summary>
    public const int TailMatchThreads = 1024;

    /// <summary>
    /// Most query clusters the Hopper plan pairs tails for: the pairing keeps a [QC, QC] candidate list per problem, and
    /// its matching a thread per cluster. Above it every tail keeps a tile of its own.
    /// </summary>
    public const int MaxPairedQueryClusters = TailMatchThreads;

    /// <summary>Pair tiles a problem of <paramref name="queryClusters"/> clusters can hold: each pairs two clusters.</summary>
    public static int PairCapacity(long queryClusters) => (int)Math.Max(1, queryClusters / 2);

    /// <summary>
    /// Dynamic shared memory of svg2_tail_candidates (a 64-bit sort key per candidate, the key cluster sizes and the
    /// block's mask row as bits) and of svg2_pair_tails (partners and proposals).
    /// </summary>
    public static (int Candidates, int Matching) TailPairSharedBytes(int queryClusters, int keyClusters) =>
        (queryClusters * sizeof(ulong) + keyClusters * sizeof(int) + MaskWords(keyClusters) * sizeof(uint), 2 * queryClusters * sizeof(int));

    /// <summary>32-bit words of a mask row as bits.</summary>
    public static int MaskWords(long keyClusters) => (int)((keyClusters + KernelTraits.WarpSize - 1) / KernelTraits.WarpSize);

    /// <summary>The macros of tail_pairs.cu: a tail fills a consumer warpgroup's half of a Hopper tile.</summary>
    public static IReadOnlyList<KernelMacro> TailPairMacros { get; } =
    [
        new("SVG2_TAIL_PAIRS_THREADS", TailPairThreads), new("SVG2_TAIL_PAIRS_MATCH_THREADS", TailMatchThreads),
        new("SVG2_TAIL_PAIRS_HALF_ROWS", HopperTraits.WarpgroupRows),
    ];

    /// <summary>The macros of attention_hopper.cu.</summary>
    public static IReadOnlyList<KernelMacro> HopperMacros { get; } =
    [
        .. HopperTraits.Macros,
        new("SVG2_ATTENTION_HOPPER_CONSUMERS", HopperConsumers), new("SVG2_ATTENTION_HOPPER_TILE_KEYS", HopperTileKeys),
        new("SVG2_ATTENTION_HOPPER_STAGES", HopperStages), new("SVG2_ATTENTION_HOPPER_TOKEN_SLOTS", HopperTokenSlots),
    ];
}
