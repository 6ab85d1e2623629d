using Svg2.Attention.Fp8;

namespace Svg2.Cuda.Traits;

/// <summary>
/// The compile-time shape of FP8 attention (attention_hopper_fp8.cu): the Hopper attention's warp split and tile
/// plan (<see cref="SparseAttentionTraits"/>) on e4m3 tiles of one 128-byte panel row per token, the quantisation
/// kernel's rows per block, P's fixed scale, and the shared memory the host reserves.
/// </summary>
internal static class Fp8AttentionTraits
{
    /// <summary>Warps of a quantisation block.</summary>
    public const int QuantizeWarps = 8;

    /// <summary>16-byte chunks of a row one quantisation lane holds (a row of D 128 on 4 lanes, of D 64 on 2).</summary>
    public const int QuantizeChunksPerLane = 4;

    /// <summary>Rows whose chunks a quantisation lane loads before it converts any.</summary>
    public const int QuantizeRowsInFlight = 2;

    /// <summary>Threads of a channel-statistics block: a thread per 16-byte chunk of a row.</summary>
    public const int StatisticsThreads = 256;

    /// <summary>Rows of a group one channel-statistics block reads (its partial sums, minima and maxima).</summary>
    public const int StatisticsSliceRows = 1024;

    /// <summary>Per-channel statistics of a slice: the sum, the smallest and the largest value.</summary>
    public const int ChannelStatistics = 3;

    /// <summary>Threads of a quantisation block.</summary>
    public const int QuantizeThreads = QuantizeWarps * KernelTraits.WarpSize;

    /// <summary>Consecutive rows one quantisation block converts at head dimension <paramref name="headDim"/>.</summary>
    public static int QuantizeRowsPerBlock(int headDim) =>
        QuantizeThreads / (headDim / KernelTraits.ChunkElements / QuantizeChunksPerLane) * QuantizeRowsInFlight;

    /// <summary>
    /// K and V^T stages: the producer runs this many tiles ahead of the consumers, so the transpose of a tile's V,
    /// which waits for its copies, is done long before they need it.
    /// </summary>
    public const int Stages = 4;

    /// <summary>
    /// Rows of e4m3 ones after the D channel rows of each V^T stage: the P V product's extra columns that sum each row's
    /// rounded P (wgmma N grows in eights).
    /// </summary>
    public const int SumRows = 8;

    /// <summary>Bytes of one e4m3 tile row in shared memory: one swizzled panel row (fp8.cuh), whatever the head dimension.</summary>
    const int RowBytes = 128;

    // Staged V row tiles (two landing while a third is transposed), the split tiles' exchanged row maxima
    // (2 parities x 2 consumers x 64 rows), and the barriers: K landed, V^T written and tile read per stage, and Q landed.
    const int StagingSlots = 3;
    const int ExchangeFloats = 2 * 2 * HopperTraits.WarpgroupRows;
    const int Barriers = 3 * Stages + 1;

    /// <summary>
    /// Dynamic shared memory of one block: the alignment slack, the Q tile, per stage the K tile, the V^T tile (with its
    /// rows of ones) and the keys' scales and biases, the staged V rows, the exchanged maxima, the barriers, the token lists and the query cluster's range
    /// list (8 bytes per key cluster). attention_hopper_fp8.cu lays them out in this order.
    /// </summary>
    public static int SharedBytes(int headDim, int keyClusters)
    {
        const int tileKeys = SparseAttentionTraits.HopperTileKeys;
        return HopperTraits.SharedAlignment + SparseAttentionTraits.HopperTileRows * RowBytes
               + Stages * (tileKeys * RowBytes + (headDim + SumRows) * RowBytes + 2 * tileKeys * sizeof(float)) + StagingSlots * tileKeys * headDim
               + ExchangeFloats * sizeof(float) + Barriers * HopperTraits.BarrierBytes + SparseAttentionTraits.HopperTokenSlots * tileKeys * sizeof(int)
               + 2 * keyClusters * sizeof(int);
    }

    /// <summary>The macros of attention_hopper_fp8.cu: the Hopper attention's, P's scale and the quantisation block.</summary>
    public static IReadOnlyList<KernelMacro> Macros { get; } =
    [
        .. SparseAttentionTraits.HopperMacros,
        new("SVG2_FP8_PROBABILITY_SCALE", checked((int)Fp8Tiles.ProbabilityScale)), new("SVG2_FP8_QUANTIZE_WARPS", QuantizeWarps),
        new("SVG2_FP8_QUANTIZE_ROWS_IN_FLIGHT", QuantizeRowsInFlight),
        new("SVG2_FP8_QUANTIZE_CHUNKS_PER_LANE", QuantizeChunksPerLane),
        new("SVG2_FP8_STATISTICS_THREADS", StatisticsThreads), new("SVG2_FP8_STATISTICS_SLICE_ROWS", StatisticsSliceRows),
        new("SVG2_FP8_CHANNEL_STATISTICS", ChannelStatistics), new("SVG2_FP8_STAGES", Stages), new("SVG2_FP8_SUM_ROWS", SumRows),
    ];
}
