namespace Svg2.Cuda.Traits;

/// <summary>The shapes of selection.cu: the centroid products, the top-p selection and the error-aware selection.</summary>
internal static class SelectionTraits
{
    const int Warps = 8;

    /// <summary>Threads of one block (one block per problem and query cluster; one per tile of centroid products).</summary>
    public const int Threads = Warps * KernelTraits.WarpSize;

    /// <summary>Query and key clusters along each side of one block's tile of centroid products.</summary>
    public const int DotTile = 64;

    /// <summary>Blocks of the centroid products for one problem: one per 64 x 64 tile of (query cluster, key cluster).</summary>
    public static int DotTiles(int queryClusters, int keyClusters) => Tiles(queryClusters) * Tiles(keyClusters);

    static int Tiles(int clusters) => (clusters + DotTile - 1) / DotTile;

    /// <summary>
    /// Dynamic shared memory of one block of the top-p selection: two 64-bit sort keys per key cluster (every
    /// key, and the candidates; the scores share the candidates' room first), <paramref name="paddedKeyClusters"/>
    /// rounded up to a power of two.
    /// </summary>
    public static int SharedBytes(int paddedKeyClusters) => paddedKeyClusters * 2 * sizeof(ulong);

    /// <summary>Dynamic shared memory of one block of the error-aware selection: a 64-bit key per key cluster.</summary>
    public static int ErrorSharedBytes(int keyClusters) => keyClusters * sizeof(ulong);

    /// <summary>The macros of selection.cu.</summary>
    public static IReadOnlyList<KernelMacro> Macros { get; } = [new("SVG2_SELECT_WARPS", Warps), new("SVG2_DOT_TILE", DotTile)];
}
