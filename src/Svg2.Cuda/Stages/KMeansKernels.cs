using Svg2.Algorithm;
using Svg2.Configuration;
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
    /// tile image] bytes, room for the 16-bit and the FP8 images.
    /// </summary>
    public static Tensor AllocateCentroidScratch(KernelLibrary library, long groups, int clusters, Device device)
    {
        if (library.Family != KernelFamily.Hopper) return empty([groups, clusters], ScalarType.Float32, device);
        return empty([groups, HopperScratchBytes(library, clusters)], ScalarType.Byte, device);
    }

    /// <summary>Bytes of one group's Hopper centroid scratch: every tile's image, room for the 16-bit and the FP8 form.</summary>
    static long HopperScratchBytes(KernelLibrary library, int clusters) =>
        (long)KMeansTraits.HopperTiles(clusters) * Math.Max(library.Traits.KMeans.HopperTileImageBytes, library.Traits.KMeans.HopperFp8TileImageBytes);

    /// <summary>
    /// Why <paramref name="library"/> cannot take <paramref name="precision"/>, or null: FP8 products run in the Hopper
    /// family's kernels only.
    /// </summary>
    public static string? Unsupported(KernelLibrary library, KMeansPrecision precision) =>
        precision == KMeansPrecision.Fp8 && library.Family != KernelFamily.Hopper
            ? $"FP8 k-means distances run in the Hopper kernels (sm_90a); {library.Device.Name} ({library.Device.Architecture}) runs the {library.Family.ToString().ToLowerInvariant()} family."
            : null;

    /// <summary>
    /// The centre of a call's FP8 distances (<see cref="Fp8Distances.Centre"/>) from its starting centroids, or null
    /// under <see cref="KMeansPrecision.Input"/>. A library without FP8 kernels refuses it in <see cref="EnqueueIteration"/>.
    /// </summary>
    public static Tensor? CentreFor(KMeansPrecision precision, Tensor centroids) =>
        precision == KMeansPrecision.Fp8 ? Fp8Distances.Centre(centroids) : null;

    /// <summary>
    /// Enqueues one iteration from <paramref name="start"/> into <paramref name="centroids"/> (the same
    /// tensor for an update in place). The layout outputs may belong to a longer layout (see <see cref="CountingSort.Enqueue"/>).
    /// </summary>
    /// <remarks>
    /// A start other than the output lets a caller keep its centroids and still have new ones without a copy:
    /// every row of <paramref name="centroids"/> is written (an empty cluster keeps its row of the start).
    /// </remarks>
    /// <param name="library">Kernels of the device.</param>
    /// <param name="points">[G, N, D] points: contiguous, or the leading rows of a longer contiguous tensor.</param>
    /// <param name="start">[G, C, D] centroids the iteration assigns to, read only.</param>
    /// <param name="centroids">[G, C, D] output: the member means of the assignment.</param>
    /// <param name="scratch">Centroid scratch from <see cref="AllocateCentroidScratch"/>.</param>
    /// <param name="labels">[G, N] int64 output labels.</param>
    /// <param name="counts">Counting-sort scratch (<see cref="CountingSort.AllocateCounts"/>).</param>
    /// <param name="sizes">[G, L] int64 output cluster sizes (L >= C), entries 0 .. C - 1 written.</param>
    /// <param name="offsets">[G, L + 1] int64 output cluster offsets, entries 0 .. C written.</param>
    /// <param name="permutation">[G, R] int64 output permutation (cluster-major, stable), entries 0 .. N - 1 written.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    /// <param name="afterStep">Called after each step of <see cref="Steps"/> is enqueued (for per-kernel timing).</param>
    /// <param name="fp8Centre">[G, D] float32 (<see cref="CentreFor"/>): the assignment's products in FP8 around it;
    /// null for 16-bit products. Hopper family only.</param>
    /// <param name="startImageWritten">The scratch already holds <paramref name="start"/>'s tile image, written by the previous
    /// iteration's means (<paramref name="writeImage"/>): the centroid tiles step is skipped. Only where <see cref="MeansWriteImages"/>.</param>
    /// <param name="writeImage">The means also write the new centroids' tile image into the scratch, for the next iteration. Only where
    /// <see cref="MeansWriteImages"/>.</param>
    public static void EnqueueIteration(KernelLibrary library, Tensor points, Tensor start, Tensor centroids, Tensor scratch, Tensor labels,
        Tensor counts, Tensor sizes, Tensor offsets, Tensor permutation, IntPtr stream, Action<string>? afterStep = null, Tensor? fp8Centre = null,
        bool startImageWritten = false, bool writeImage = false)
    {
        if ((startImageWritten || writeImage) && !MeansWriteImages(library, fp8Centre))
            throw new ArgumentException("Only the Hopper family's 16-bit assignment reads centroid tile images that the means write.");
        int groups = (int)points.shape[0], tokens = (int)points.shape[1], clusters = (int)centroids.shape[1];
        var pointsPointer = DevicePointer.OfRows(points, library.Element, nameof(points), out long groupRows);
        TensorChecks.RequireShape(labels, nameof(labels), groups, tokens);
        TensorChecks.RequireShape(start, nameof(start), groups, clusters, points.shape[2]);
        TensorChecks.RequireShape(centroids, nameof(centroids), groups, clusters, points.shape[2]);
        var startPointer = DevicePointer.Of(start, library.Element, nameof(start));
        var labelsPointer = DevicePointer.Of(labels, ScalarType.Int64, nameof(labels));
        if (fp8Centre is not null)
        {
            if (Unsupported(library, KMeansPrecision.Fp8) is { } reason) throw new NotSupportedException(reason);
            TensorChecks.RequireShape(fp8Centre, nameof(fp8Centre), groups, points.shape[2]);
            var centrePointer = DevicePointer.Of(fp8Centre, ScalarType.Float32, nameof(fp8Centre));
            var imagePointer = DevicePointer.Of(scratch, ScalarType.Byte, nameof(scratch));
            library.Launch("svg2_centroid_tiles_fp8", (KMeansTraits.HopperTiles(clusters), groups), KMeansTraits.HopperImageThreads, 0, stream,
                startPointer, centrePointer, imagePointer, clusters);
            afterStep?.Invoke(Steps[0]);
            library.Launch("svg2_kmeans_assign_hopper_fp8", (HopperAssignBlocks(library, groups, tokens), 1), KMeansTraits.HopperThreads,
                library.Traits.KMeans.HopperFp8AssignSharedBytes, stream, pointsPointer, centrePointer, imagePointer, labelsPointer, tokens, (int)groupRows, clusters, groups);
        }
        else if (library.Family == KernelFamily.Hopper)
        {
            var imagePointer = DevicePointer.Of(scratch, ScalarType.Byte, nameof(scratch));
            if (!startImageWritten)
                library.Launch("svg2_centroid_tiles", (KMeansTraits.HopperTiles(clusters), groups), KMeansTraits.HopperImageThreads, 0, stream, startPointer, imagePointer, clusters);
            afterStep?.Invoke(Steps[0]);
            library.Launch("svg2_kmeans_assign_hopper", (HopperAssignBlocks(library, groups, tokens), 1), KMeansTraits.HopperThreads, library.Traits.KMeans.HopperAssignSharedBytes, stream,
                pointsPointer, imagePointer, labelsPointer, tokens, (int)groupRows, clusters, groups);
        }
        else
        {
            var normsPointer = DevicePointer.Of(scratch, ScalarType.Float32, nameof(scratch));
            int rows = groups * clusters;
            library.Launch("svg2_centroid_norms", ((rows + KMeansTraits.NormRowsPerBlock - 1) / KMeansTraits.NormRowsPerBlock, 1), KMeansTraits.NormThreads, 0, stream,
                startPointer, normsPointer, rows);
            afterStep?.Invoke(Steps[0]);
            library.Launch("svg2_kmeans_assign", ((tokens + KMeansTraits.PointsPerBlock - 1) / KMeansTraits.PointsPerBlock, groups), KMeansTraits.AssignThreads,
                library.Traits.KMeans.AssignSharedBytes, stream, pointsPointer, startPointer, normsPointer, labelsPointer, tokens, (int)groupRows, clusters);
        }
        afterStep?.Invoke(Steps[1]);
        // Checks the layout's shapes before the means read them.
        CountingSort.Enqueue(library, labels, clusters, counts, sizes, offsets, permutation, stream);
        afterStep?.Invoke(Steps[2]);
        EnqueueSegmentMeans(library, points, permutation, offsets, centroids, stream, start, writeImage ? scratch : null);
        afterStep?.Invoke(Steps[3]);
    }

    /// <summary>
    /// Whether the means can write the next iteration's centroid tile images (<see cref="EnqueueIteration"/>): the Hopper
    /// family's 16-bit assignment, whose images are the centroid rows and their biases (the FP8 images are scaled per tile).
    /// </summary>
    public static bool MeansWriteImages(KernelLibrary library, Tensor? fp8Centre) => library.Family == KernelFamily.Hopper && fp8Centre is null;

    /// <summary>Blocks of the persistent Hopper assignment: at most one per multiprocessor walks the 256-point items of every group.</summary>
    static int HopperAssignBlocks(KernelLibrary library, int groups, int tokens)
    {
        long items = (long)groups * ((tokens + KMeansTraits.HopperItemPoints - 1) / KMeansTraits.HopperItemPoints);
        return (int)Math.Min(items, library.Device.Multiprocessors);
    }

    /// <summary>
    /// Enqueues the member means of the first C clusters of a layout over the rows of
    /// <paramref name="points"/>, in permuted order (fixed summation order, no atomics); an empty
    /// cluster keeps its row of <paramref name="previous"/>.
    /// </summary>
    /// <param name="library">Kernels of the device.</param>
    /// <param name="points">[G, N, D] rows: contiguous, or the leading rows of a longer contiguous tensor.</param>
    /// <param name="permutation">[G, R] int64 layout permutation (R &gt;= N), clusters in order.</param>
    /// <param name="offsets">[G, L + 1] int64 layout offsets (L &gt;= C clusters).</param>
    /// <param name="means">[G, C, D] output, the dtype of the points.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    /// <param name="previous">[G, C, D] rows an empty cluster keeps; null: <paramref name="means"/> itself.</param>
    /// <param name="image">Centroid scratch (<see cref="AllocateCentroidScratch"/>) whose tile image of the means the kernel writes
    /// too (Hopper family); null: none.</param>
    public static void EnqueueSegmentMeans(KernelLibrary library, Tensor points, Tensor permutation, Tensor offsets, Tensor means, IntPtr stream,
        Tensor? previous = null, Tensor? image = null)
    {
        int groups = (int)points.shape[0], tokens = (int)points.shape[1], clusters = (int)means.shape[1];
        var pointsPointer = DevicePointer.OfRows(points, library.Element, nameof(points), out long groupRows);
        TensorChecks.RequireShape(means, nameof(means), groups, clusters, points.shape[2]);
        var meansPointer = DevicePointer.Of(means, library.Element, nameof(means));
        if (previous is not null) TensorChecks.RequireShape(previous, nameof(previous), groups, clusters, points.shape[2]);
        var previousPointer = previous is null ? meansPointer : DevicePointer.Of(previous, library.Element, nameof(previous));
        bool wide = tokens >= (long)WideMeanClusterRows * clusters;
        string kernel = wide ? "svg2_segment_means_wide" : "svg2_segment_means";
        int threads = wide ? KMeansTraits.WideMeanThreads : KMeansTraits.MeanThreads;
        var permutationPointer = DevicePointer.Of(permutation, ScalarType.Int64, nameof(permutation));
        var offsetsPointer = DevicePointer.Of(offsets, ScalarType.Int64, nameof(offsets));
        int permutationRows = (int)permutation.shape[1], layoutClusters = (int)offsets.shape[1] - 1;
        if (image is null)
        {
            library.Launch(kernel, (clusters, groups), threads, 0, stream, pointsPointer, permutationPointer, offsetsPointer, previousPointer, meansPointer,
                (int)groupRows, permutationRows, clusters, layoutClusters);
            return;
        }
        if (library.Family != KernelFamily.Hopper) throw new ArgumentException("Centroid tile images are the Hopper family's.", nameof(image));
        TensorChecks.RequireShape(image, nameof(image), groups, HopperScratchBytes(library, clusters));
        library.Launch(kernel + "_image", (clusters, groups), threads, 0, stream, pointsPointer, permutationPointer, offsetsPointer, previousPointer, meansPointer,
            (int)groupRows, permutationRows, clusters, layoutClusters, DevicePointer.Of(image, ScalarType.Byte, nameof(image)));
    }
}
