namespace Svg2.Cuda.Traits;

/// <summary>The compile-time shape of the top-p selection (selection.cu): threads, shared memory and macros.</summary>
internal static class SelectionTraits
{
    const int Warps = 8;

    /// <summary>Threads of one block (one block per problem and query cluster).</summary>
    public const int Threads = Warps * KernelTraits.WarpSize;

    /// <summary>
    /// Dynamic shared memory of one block: a 64-bit sort key and a float32 score per key cluster,
    /// <paramref name="paddedKeyClusters"/> rounded up to a power of two, and the query centroid in float32.
    /// </summary>
    public static int SharedBytes(int paddedKeyClusters, int headDim) => paddedKeyClusters * (sizeof(ulong) + sizeof(float)) + headDim * sizeof(float);

    /// <summary>Dynamic shared memory of one block of the error-aware selection: a 64-bit key per key cluster.</summary>
    public static int ErrorSharedBytes(int keyClusters) => keyClusters * sizeof(ulong);

    /// <summary>The macros of selection.cu.</summary>
    public static IReadOnlyList<KernelMacro> Macros { get; } = [new("SVG2_SELECT_WARPS", Warps)];
}
