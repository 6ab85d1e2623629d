using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// One Lloyd iteration on the GPU (kmeans.cu + layout.cu): centroid norms, fused distance/argmin
/// assignment on tensor cores, counting sort by label, and segmented member means in permuted order.
/// The Hopper family (kmeans_hopper.cu) writes the centroids as shared-memory tile images with their
/// biases instead of bare norms, and assigns with wgmma.
/// After an iteration, labels/sizes/offsets/permutation describe the assignment and the centroids
/// are its member means: the layout of the last iteration is the permutation SVG2 needs.
/// </summary>
internal static class KMeansKernels
{
    const int WideMeanClusterRows = 128;     // mean cluster size from which the 8-warp segment means pay

    /// <summary>
    /// Names of the kernel steps of one iteration, in order, as passed to the step callback. The first
    /// writes the centroid norms, or on the Hopper family the centroid tile images.
    /// </summary>
    public static readonly IReadOnlyList<string> Steps = ["centroid norms / tiles", "assignment", "counting sort", "segment means"];

    /// <summary>
    /// Scratch for one iteration's centroid preparation, for <paramref name="groups"/> problems of
    /// <paramref name="clusters"/> centroids: [G, C] float32 norms, or on the Hopper family [G, tiles x
    /// tile image] bytes.
    /// </summary>
    public static Tensor AllocateCentroidScratch(KernelLibrary library, long groups, int clusters, Device device)
    {
        if (library.Family != KernelFamily.Hopper) return empty([groups, clusters], ScalarType.Float32, device);
        return empty([groups, (long)KMeansTraits.HopperTiles(clusters) * library.Traits.KMeans.HopperTileImageBytes], ScalarType.Byte, device);
    }

    /// <summary>
    /// Enqueues one iteration; <paramref name="centroids"/> is updated in place. The layout outputs
    /// may belong to a longer layout (see <see cref="CountingSort.Enqueue"/>).
    /// </summary>
    /// <param name="library">Kernels of the device.</param>
    /// <param name="points">[G, N, D] points: contiguous, or the leading rows of a longer contiguous tensor.</param>
    /// <param name="centroids">[G, C, D] centroids, updated in place.</param>
    /// <param name="scratch">Centroid scratch from <see cref="AllocateCentroidScratch"/>.</param>
    /// <param name="labels">[G, N] int64 output labels.</param>
    /// <param name="counts">Counting-sort scratch (<see cref="CountingSort.AllocateCounts"/>).</param>
    /// <param name="sizes">[G, L] int64 output cluster sizes (L >= C), entries 0 .. C - 1 written.</param>
    /// <param name="offsets">[G, L + 1] int64 output cluster offsets, entries 0 .. C written.</param>
    /// <param name="permutation">[G, R] int64 output permutation (cluster-major, stable), entries 0 .. N - 1 written.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    /// <param name="afterStep">Called after each step of <see cref="Steps"/> is enqueued (for per-kernel timing).</param>
    public static void EnqueueIteration(KernelLibrary library, Tensor points, Tensor centroids, Tensor scratch, Tensor labels,
        Tensor counts, Tensor sizes, Tensor offsets, Tensor permutation, IntPtr stream, Action<string>? afterStep = null)
    {
        int groups = (int)points.shape[0], tokens = (int)points.shape[1], clusters = (int)centroids.shape[1];
        var pointsPointer = DevicePointer.OfRows(points, library.Element, nameof(points), out long groupRows);
        TensorChecks.RequireShape(labels, nameof(labels), groups, tokens);
        TensorChecks.RequireShape(centroids, nameof(centroids), groups, clusters, points.shape[2]);
        var centroidsPointer = DevicePointer.Of(centroids, library.Element, nameof(centroids));
        var labelsPointer = DevicePointer.Of(labels, ScalarType.Int64, nameof(labels));
        if (library.Family == KernelFamily.Hopper)
        {
            var imagePointer = DevicePointer.Of(scratch, ScalarType.Byte, nameof(scratch));
            library.Launch("svg2_centroid_tiles", (KMeansTraits.HopperTiles(clusters), groups), KMeansTraits.HopperImageThreads, 0, stream, centroidsPointer, imagePointer, clusters);
            afterStep?.Invoke(Steps[0]);
            // Persistent: at most one block per multiprocessor walks the 256-point items of every group.
            long items = (long)groups * ((tokens + KMeansTraits.HopperItemPoints - 1) / KMeansTraits.HopperItemPoints);
            int blocks = (int)Math.Min(items, library.Device.Multiprocessors);
            library.Launch("svg2_kmeans_assign_hopper", (blocks, 1), KMeansTraits.HopperThreads, library.Traits.KMeans.HopperAssignSharedBytes, stream,
                pointsPointer, imagePointer, labelsPointer, tokens, (int)groupRows, clusters, groups);
        }
        else
        {
            var normsPointer = DevicePointer.Of(scratch, ScalarType.Float32, nameof(scratch));
            int rows = groups * clusters;
            library.Launch("svg2_centroid_norms", ((rows + KMeansTraits.NormRowsPerBlock - 1) / KMeansTraits.NormRowsPerBlock, 1), KMeansTraits.NormThreads, 0, stream,
                centroidsPointer, normsPointer, rows);
            afterStep?.Invoke(Steps[0]);
            library.Launch("svg2_kmeans_assign", ((tokens + KMeansTraits.PointsPerBlock - 1) / KMeansTraits.PointsPerBlock, groups), KMeansTraits.AssignThreads,
                library.Traits.KMeans.AssignSharedBytes, stream, pointsPointer, centroidsPointer, normsPointer, labelsPointer, tokens, (int)groupRows, clusters);
        }
        afterStep?.Invoke(Steps[1]);
        // Checks the layout's shapes before the means read them.
        CountingSort.Enqueue(library, labels, clusters, counts, sizes, offsets, permutation, stream);
        afterStep?.Invoke(Steps[2]);
        EnqueueSegmentMeans(library, points, permutation, offsets, centroids, stream);
        afterStep?.Invoke(Steps[3]);
    }

    /// <summary>
    /// Enqueues the member means of the first C clusters of a layout over the rows of
    /// <paramref name="points"/>, in permuted order (fixed summation order, no atomics); an empty
    /// cluster keeps its row of <paramref name="means"/>.
    /// </summary>
    /// <param name="library">Kernels of the device.</param>
    /// <param name="points">[G, N, D] rows: contiguous, or the leading rows of a longer contiguous tensor.</param>
    /// <param name="permutation">[G, R] int64 layout permutation (R &gt;= N), clusters in order.</param>
    /// <param name="offsets">[G, L + 1] int64 layout offsets (L &gt;= C clusters).</param>
    /// <param name="means">[G, C, D] output, the dtype of the points.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    public static void EnqueueSegmentMeans(KernelLibrary library, Tensor points, Tensor permutation, Tensor offsets, Tensor means, IntPtr stream)
    {
        int groups = (int)points.shape[0], tokens = (int)points.shape[1], clusters = (int)means.shape[1];
        var pointsPointer = DevicePointer.OfRows(points, library.Element, nameof(points), out long groupRows);
        TensorChecks.RequireShape(means, nameof(means), groups, clusters, points.shape[2]);
        var meansPointer = DevicePointer.Of(means, library.Element, nameof(means));
        bool wide = tokens >= (long)WideMeanClusterRows * clusters;
        library.Launch(wide ? "svg2_segment_means_wide" : "svg2_segment_means", (clusters, groups), wide ? KMeansTraits.WideMeanThreads : KMeansTraits.MeanThreads, 0, stream,
            pointsPointer, DevicePointer.Of(permutation, ScalarType.Int64, nameof(permutation)), DevicePointer.Of(offsets, ScalarType.Int64, nameof(offsets)),
            meansPointer, meansPointer, (int)groupRows, (int)permutation.shape[1], clusters, (int)offsets.shape[1] - 1);
    }
}
