namespace Svg2.Cuda.Traits;

/// <summary>The compile-time shape of the counting sort (layout.cu): its chunk, its threads and its macros.</summary>
internal static class CountingSortTraits
{
    /// <summary>Tokens per chunk; one warp histograms and scatters a chunk.</summary>
    public const int Chunk = 1024;

    /// <summary>Threads of svg2_label_histogram and svg2_stable_scatter: one warp.</summary>
    public const int ChunkThreads = KernelTraits.WarpSize;

    /// <summary>Threads of svg2_cluster_offsets (one block per problem).</summary>
    public const int OffsetsThreads = 1024;

    /// <summary>The macros of layout.cu.</summary>
    public static IReadOnlyList<KernelMacro> Macros { get; } =
        [new("SVG2_SORT_CHUNK", Chunk), new("SVG2_SORT_OFFSETS_THREADS", OffsetsThreads)];
}
