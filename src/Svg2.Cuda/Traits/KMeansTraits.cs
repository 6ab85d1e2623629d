namespace Svg2.Cuda.Traits;

/// <summary>
/// The compile-time shape of the k-means kernels for one head dimension: the portable assignment,
/// centroid norms and segment means of kmeans.cu, and the Hopper assignment and centroid tile
/// images of kmeans_hopper.cu; their macros, launch geometry and dynamic shared memory.
/// </summary>
internal sealed class KMeansTraits
{
    const int AssignWarps = 4;
    const int AssignRowTiles = 2;                  // 16-row MMA tiles per warp, sharing each centroid fragment
    const int MmaRows = 16;                        // M of mma.sync m16n8k16
    const int CentroidTile = 64;                   // centroids per shared-memory tile (double-buffered)
    const int NormWarps = 8;                       // one warp per centroid row
    const int MeanWarps = 4;
    const int WideMeanWarps = 8;

    /// <summary>Points of one portable assignment block.</summary>
    public const int PointsPerBlock = AssignWarps * AssignRowTiles * MmaRows;

    /// <summary>Threads of one portable assignment block.</summary>
    public const int AssignThreads = AssignWarps * KernelTraits.WarpSize;

    /// <summary>Blocks of the portable assignment that should share a multiprocessor (the occupancy hint).</summary>
    public const int AssignBlocksPerMultiprocessor = 3;

    /// <summary>Centroid rows whose norms one block computes.</summary>
    public const int NormRowsPerBlock = NormWarps;

    /// <summary>Threads of one centroid-norm block.</summary>
    public const int NormThreads = NormWarps * KernelTraits.WarpSize;

    /// <summary>Threads of one segment-means block.</summary>
    public const int MeanThreads = MeanWarps * KernelTraits.WarpSize;

    /// <summary>Threads of one block of the wide segment means (large clusters).</summary>
    public const int WideMeanThreads = WideMeanWarps * KernelTraits.WarpSize;

    const int HopperConsumers = 4;                 // warpgroups, each with its own points
    const int HopperRowBlocks = 1;                 // 64-row blocks per warpgroup
    const int HopperPointSlots = 2;                // the next item's points load while the current one runs
    const int HopperCentroidStages = 3;

    /// <summary>Points of one work item of the Hopper assignment.</summary>
    public const int HopperItemPoints = HopperConsumers * HopperRowBlocks * HopperTraits.WarpgroupRows;

    /// <summary>Centroids of one tile image of the Hopper family.</summary>
    public const int HopperTileCentroids = 128;

    /// <summary>Threads of one Hopper assignment block.</summary>
    public const int HopperThreads = HopperConsumers * HopperTraits.WarpgroupThreads;

    /// <summary>Threads of one centroid-tile-image block.</summary>
    public const int HopperImageThreads = 256;

    /// <summary>The shape for head dimension <paramref name="headDim"/>.</summary>
    public KMeansTraits(int headDim) => HeadDim = headDim;

    /// <summary>Head dimension D.</summary>
    public int HeadDim { get; }

    int RowBytes => HeadDim * 2;

    const int Fp8RowBytes = 128;                   // an e4m3 row is one 128-byte panel row whatever D (bytes past D are zero)
    const int Fp8ScaleBytes = 16;                  // a tile's float32 scale, padded to the bulk copy's 16-byte unit

    /// <summary>Dynamic shared memory of one portable assignment block: the point block, two centroid tiles and their norms (float32).</summary>
    public int AssignSharedBytes => (PointsPerBlock + 2 * CentroidTile) * RowBytes + 2 * CentroidTile * sizeof(float);

    /// <summary>Bytes of one centroid tile image of the Hopper family: the rows and a float32 bias per row.</summary>
    public int HopperTileImageBytes => HopperTileCentroids * (RowBytes + sizeof(float));

    /// <summary>Bytes of one FP8 centroid tile image: the e4m3 rows, a float32 bias per row and the tile's scale.</summary>
    public int HopperFp8TileImageBytes => HopperTileCentroids * (Fp8RowBytes + sizeof(float)) + Fp8ScaleBytes;

    /// <summary>
    /// Dynamic shared memory of one block of the FP8 Hopper assignment: the 16-bit point slots, each warpgroup's
    /// e4m3 rows, the centroid stages with their biases and scales, the row scales, the barriers and the alignment slack.
    /// </summary>
    public int HopperFp8AssignSharedBytes =>
        HopperTraits.SharedAlignment + HopperPointSlots * HopperItemPoints * RowBytes + HopperItemPoints * (Fp8RowBytes + sizeof(float))
        + HopperCentroidStages * HopperFp8TileImageBytes + 2 * HopperCentroidStages * HopperTraits.BarrierBytes;

    /// <summary>
    /// Dynamic shared memory of one block of the Hopper assignment: the point slots, the centroid
    /// stages with their biases, a full and an empty barrier per stage and the alignment slack of the panels.
    /// </summary>
    public int HopperAssignSharedBytes =>
        HopperTraits.SharedAlignment + HopperPointSlots * HopperItemPoints * RowBytes + HopperCentroidStages * HopperTileImageBytes
        + 2 * HopperCentroidStages * HopperTraits.BarrierBytes;

    /// <summary>Centroid tiles of the Hopper family for <paramref name="clusters"/> centroids.</summary>
    public static int HopperTiles(int clusters) => (clusters + HopperTileCentroids - 1) / HopperTileCentroids;

    // Declared before the lists that spread it: static initialisers run in textual order.
    /// <summary>The macros of segment_means.cuh, which both k-means programs include.</summary>
    static IReadOnlyList<KernelMacro> MeanMacros { get; } = [new("SVG2_KMEANS_MEAN_WARPS", MeanWarps), new("SVG2_KMEANS_WIDE_MEAN_WARPS", WideMeanWarps)];

    /// <summary>The macros of kmeans.cu.</summary>
    public static IReadOnlyList<KernelMacro> Macros { get; } =
    [
        new("SVG2_KMEANS_ASSIGN_WARPS", AssignWarps), new("SVG2_KMEANS_ASSIGN_ROW_TILES", AssignRowTiles),
        new("SVG2_KMEANS_ASSIGN_MIN_BLOCKS", AssignBlocksPerMultiprocessor), new("SVG2_KMEANS_CENTROID_TILE", CentroidTile),
        new("SVG2_KMEANS_NORM_WARPS", NormWarps), .. MeanMacros,
    ];

    /// <summary>The macros of kmeans_hopper.cu.</summary>
    public static IReadOnlyList<KernelMacro> HopperMacros { get; } =
    [
        .. HopperTraits.Macros, .. MeanMacros,
        new("SVG2_KMEANS_HOPPER_CONSUMERS", HopperConsumers), new("SVG2_KMEANS_HOPPER_ROW_BLOCKS", HopperRowBlocks),
        new("SVG2_KMEANS_HOPPER_TILE_CENTROIDS", HopperTileCentroids), new("SVG2_KMEANS_HOPPER_POINT_SLOTS", HopperPointSlots),
        new("SVG2_KMEANS_HOPPER_CENTROID_STAGES", HopperCentroidStages), new("SVG2_KMEANS_HOPPER_IMAGE_THREADS", HopperImageThreads),
        new("SVG2_KMEANS_FP8_ROW_BYTES", Fp8RowBytes), new("SVG2_KMEANS_FP8_SCALE_BYTES", Fp8ScaleBytes),
    ];
}
