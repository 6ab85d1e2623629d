using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// The stable permutation by cluster id with sizes and offsets (layout.cu): histogram per chunk,
/// prefix sums, stable scatter. Integer atomics on shared memory only; no host reads.
/// </summary>
internal static class CountingSort
{
    /// <summary>Largest cluster count: the per-chunk counters must fit in shared memory.</summary>
    public const int MaxClusters = 32768;

    /// <summary>Chunks of a problem with <paramref name="tokens"/> tokens.</summary>
    public static int Chunks(long tokens) => (int)((tokens + CountingSortTraits.Chunk - 1) / CountingSortTraits.Chunk);

    /// <summary>Scratch counters [G, chunks, C] int32.</summary>
    public static Tensor AllocateCounts(long groups, long tokens, int clusters, Device device) =>
        empty([groups, Chunks(tokens), clusters], ScalarType.Int32, device);

    /// <summary>
    /// Enqueues the three passes; the outputs are preallocated. The outputs may belong to a longer
    /// layout whose first N rows and first C clusters are the sorted ones (video rows before text rows,
    /// see <see cref="CudaSvg2Pipeline"/>): the rest of it is left as it is.
    /// </summary>
    /// <param name="library">Kernels of the device.</param>
    /// <param name="labels">[G, N] int64.</param>
    /// <param name="clusters">C.</param>
    /// <param name="counts">[G, chunks, C] int32 scratch.</param>
    /// <param name="sizes">[G, L] int64 output (L >= C): entries 0 .. C - 1 written.</param>
    /// <param name="offsets">[G, L + 1] int64 output: entries 0 .. C written.</param>
    /// <param name="permutation">[G, R] int64 output (R >= N): entries 0 .. N - 1 written.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    public static void Enqueue(KernelLibrary library, Tensor labels, int clusters, Tensor counts, Tensor sizes, Tensor offsets, Tensor permutation, IntPtr stream)
    {
        if (clusters < 1 || clusters > MaxClusters)
            throw new ArgumentException($"The CUDA counting sort supports 1 to {MaxClusters} clusters; got {clusters}.");
        int groups = (int)labels.shape[0], tokens = (int)labels.shape[1], chunks = Chunks(tokens);
        if (permutation.dim() != 2 || permutation.shape[0] != groups || permutation.shape[1] < tokens)
            throw new ArgumentException($"The permutation [{string.Join(", ", permutation.shape)}] must be [{groups}, >= {tokens}]: every sorted row of each problem.", nameof(permutation));
        if (sizes.dim() != 2 || sizes.shape[0] != groups || sizes.shape[1] < clusters)
            throw new ArgumentException($"The sizes [{string.Join(", ", sizes.shape)}] must be [{groups}, >= {clusters}]: every cluster of each problem.", nameof(sizes));
        int permutationRows = (int)permutation.shape[1], layoutClusters = (int)sizes.shape[1];
        TensorChecks.RequireShape(offsets, nameof(offsets), groups, layoutClusters + 1);
        TensorChecks.RequireShape(counts, nameof(counts), groups, chunks, clusters);
        var labelsPointer = DevicePointer.Of(labels, ScalarType.Int64, nameof(labels));
        var countsPointer = DevicePointer.Of(counts, ScalarType.Int32, nameof(counts));
        var sizesPointer = DevicePointer.Of(sizes, ScalarType.Int64, nameof(sizes));
        var offsetsPointer = DevicePointer.Of(offsets, ScalarType.Int64, nameof(offsets));
        var permutationPointer = DevicePointer.Of(permutation, ScalarType.Int64, nameof(permutation));
        int counterBytes = clusters * sizeof(int);
        library.Launch("svg2_label_histogram", (chunks, groups), CountingSortTraits.ChunkThreads, counterBytes, stream, labelsPointer, countsPointer, tokens, clusters, chunks);
        library.Launch("svg2_cluster_offsets", (groups, 1), CountingSortTraits.OffsetsThreads, counterBytes, stream, countsPointer, sizesPointer, offsetsPointer, clusters, chunks, layoutClusters);
        library.Launch("svg2_stable_scatter", (chunks, groups), CountingSortTraits.ChunkThreads, counterBytes, stream, labelsPointer, countsPointer, offsetsPointer, permutationPointer, tokens, clusters, chunks,
            permutationRows, layoutClusters);
    }
}
