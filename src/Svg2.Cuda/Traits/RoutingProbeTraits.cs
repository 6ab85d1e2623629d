namespace Svg2.Cuda.Traits;

/// <summary>
/// The compile-time shape of the routing probe (probe.cu): warps and rows per block, key chunks per staged
/// tile, centroid rows per tile, the merge's warps, and the shared memory the host reserves for them.
/// </summary>
internal static class RoutingProbeTraits
{
    /// <summary>Warps of a probe block, 16 query-cluster mean rows each (one m16 MMA tile).</summary>
    public const int Warps = 4;

    /// <summary>Keys per MMA chunk: the k extent of the m16n8k16 P·V product, fixed by the instruction.</summary>
    public const int ChunkKeys = 16;

    /// <summary>Chunks staged together in one key/value tile.</summary>
    public const int TileChunks = 4;

    /// <summary>Centroid rows staged beside each key tile: one n8 MMA tile, at least one per chunk.</summary>
    public const int CentroidRows = 8;

    /// <summary>Keys per staged tile of the flash form of sweep 1 (four 16-key P·V groups, one row maximum per tile).</summary>
    public const int FlashTileKeys = 64;

    /// <summary>Threads of the key-sample kernel (one head per block).</summary>
    public const int SampleThreads = 256;

    /// <summary>Warps of the merge kernel, one query-cluster row each at a time.</summary>
    public const int MergeWarps = 8;

    // The fields of one chunk descriptor (start, count, cluster, size, flags), two descriptor sets with their
    // counts, and the split's cluster range, all int32: probe.cu's fixed layout after the tiles.
    const int ChunkDescriptorInts = 5;
    const int DescriptorBytes = 2 * TileChunks * ChunkDescriptorInts * sizeof(int) + 2 * sizeof(int) + 2 * sizeof(int);

    /// <summary>Threads of a probe block.</summary>
    public const int Threads = Warps * KernelTraits.WarpSize;

    /// <summary>Query-cluster mean rows per probe block.</summary>
    public const int TileRows = Warps * 16;

    /// <summary>Key slots of one staged tile.</summary>
    public const int TileKeys = TileChunks * ChunkKeys;

    /// <summary>Threads of a merge block.</summary>
    public const int MergeThreads = MergeWarps * KernelTraits.WarpSize;

    /// <summary>
    /// Shared bytes before the head's offsets: the query tile, the key and value tiles, the centroid tile (16-bit
    /// elements of <paramref name="headDim"/>) and the descriptors. probe.cu asserts its layout has this size.
    /// </summary>
    public static int FixedSharedBytes(int headDim) => (TileRows + 2 * TileKeys + CentroidRows) * headDim * sizeof(short) + DescriptorBytes;

    // The pipelined walk's descriptors: three sets, their counts and the split's range (each padded to four int32).
    const int PipelinedDescriptorBytes = 3 * TileChunks * ChunkDescriptorInts * sizeof(int) + 4 * sizeof(int) + 4 * sizeof(int);

    /// <summary>
    /// Shared bytes before the head's offsets in the pipelined walk: the query tile, two stages of key, value and
    /// centroid tiles with the chunks' float32 mean values, and the descriptors. probe.cu asserts this size too.
    /// </summary>
    public static int PipelinedFixedSharedBytes(int headDim) =>
        (TileRows + 2 * (2 * TileKeys + CentroidRows)) * headDim * sizeof(short) + 2 * TileChunks * headDim * sizeof(float) + PipelinedDescriptorBytes;

    /// <summary>
    /// Shared bytes of the flash form of sweep 1: two stages of key and value tiles of <see cref="FlashTileKeys"/> rows
    /// (the query tile is staged in the first before the walk). probe.cu asserts this size.
    /// </summary>
    public static int FlashSharedBytes(int headDim) => 2 * 2 * FlashTileKeys * headDim * sizeof(short);

    /// <summary>Dynamic shared memory of one probe block: the fixed part of the walk and the head's KC + 1 offsets (int32).</summary>
    public static int SharedBytes(int headDim, int keyClusters, bool pipelined) =>
        (pipelined ? PipelinedFixedSharedBytes(headDim) : FixedSharedBytes(headDim)) + (keyClusters + 1) * sizeof(int);

    /// <summary>The macros of probe.cu for <paramref name="headDim"/>.</summary>
    public static IReadOnlyList<KernelMacro> Macros(int headDim) =>
    [
        new("SVG2_PROBE_WARPS", Warps), new("SVG2_PROBE_CHUNK_KEYS", ChunkKeys), new("SVG2_PROBE_TILE_CHUNKS", TileChunks),
        new("SVG2_PROBE_CENTROID_ROWS", CentroidRows), new("SVG2_PROBE_MERGE_WARPS", MergeWarps),
        new("SVG2_PROBE_FIXED_SHARED_BYTES", FixedSharedBytes(headDim)),
        new("SVG2_PROBE_PIPELINED_FIXED_SHARED_BYTES", PipelinedFixedSharedBytes(headDim)),
        new("SVG2_PROBE_FLASH_TILE_KEYS", FlashTileKeys), new("SVG2_PROBE_FLASH_SHARED_BYTES", FlashSharedBytes(headDim)),
        new("SVG2_PROBE_SAMPLE_THREADS", SampleThreads),
    ];
}
