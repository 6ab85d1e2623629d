namespace Svg2.Cuda.Traits;

/// <summary>
/// The compile-time shape of the fused transformer-block kernels (transformer_block.cu): how a row
/// block spreads a row over its threads, the residual add's block and unrolling, and their macros.
/// </summary>
internal static class TransformerBlockTraits
{
    /// <summary>Bytes of one vector: rows move in 16-byte loads and stores.</summary>
    public const int VectorBytes = 16;

    /// <summary>Elements (16-bit) in one vector.</summary>
    public const int VectorElements = VectorBytes / 2;

    /// <summary>Vectors a row-block thread holds in registers at most (32 floats).</summary>
    const int RowVectorsPerThread = 4;

    /// <summary>Threads of the widest row block.</summary>
    const int MaxRowThreads = 256;

    /// <summary>The widest row the row kernels hold in registers.</summary>
    public const int MaxWidth = MaxRowThreads * RowVectorsPerThread * VectorElements;

    /// <summary>Threads of one residual-add block.</summary>
    public const int ResidualThreads = 256;

    /// <summary>Vectors each residual-add thread has in flight.</summary>
    public const int ResidualUnroll = 4;

    /// <summary>Threads of a row block for rows of <paramref name="width"/> elements: enough whole warps that no thread holds more than <see cref="RowVectorsPerThread"/> vectors.</summary>
    public static int RowThreads(int width)
    {
        int vectors = width / VectorElements;
        int threads = (vectors + RowVectorsPerThread - 1) / RowVectorsPerThread;
        return Math.Max(KernelTraits.WarpSize, (threads + KernelTraits.WarpSize - 1) / KernelTraits.WarpSize * KernelTraits.WarpSize);
    }

    /// <summary>The macros of transformer_block.cu.</summary>
    public static IReadOnlyList<KernelMacro> Macros { get; } =
    [
        new("SVG2_ROW_VECTORS_PER_THREAD", RowVectorsPerThread), new("SVG2_ROW_MAX_THREADS", MaxRowThreads),
        new("SVG2_RESIDUAL_THREADS", ResidualThreads), new("SVG2_RESIDUAL_UNROLL", ResidualUnroll),
    ];
}
