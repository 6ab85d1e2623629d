using Svg2.Cuda.Runtime;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// One Lloyd iteration on the GPU (kmeans.cu + layout.cu): centroid norms, fused distance/argmin
/// assignment on tensor cores, counting sort by label, and segmented member means in permuted order.
/// After an iteration, labels/sizes/offsets/permutation describe the assignment and the centroids
/// are its member means: the layout of the last iteration is the permutation SVG2 needs.
/// </summary>
internal static class KMeansKernels
{
    const int PointsPerBlock = 128;
    const int CentroidTile = 64;
    const int AssignThreads = 128;
    const int HopperCentroidTile = 128;
    const int HopperAssignThreads = 256;
    const int HopperStages = 2;
    const int SharedAlignment = 1024;
    const int NormWarps = 8;
    const int MeanThreads = 128;

    /// <summary>Enqueues one iteration; <paramref name="centroids"/> is updated in place.</summary>
    public static void EnqueueIteration(KernelLibrary library, Tensor points, Tensor centroids, Tensor norms, Tensor labels,
        Tensor counts, Tensor sizes, Tensor offsets, Tensor permutation, IntPtr stream)
    {
        int groups = (int)points.shape[0], tokens = (int)points.shape[1], clusters = (int)centroids.shape[1];
        int rowBytes = library.HeadDim * 2;
        var pointsPointer = DevicePointer.Of(points, library.Element, nameof(points));
        var centroidsPointer = DevicePointer.Of(centroids, library.Element, nameof(centroids));
        var normsPointer = DevicePointer.Of(norms, ScalarType.Float32, nameof(norms));
        var labelsPointer = DevicePointer.Of(labels, ScalarType.Int64, nameof(labels));
        int rows = groups * clusters;
        library.Launch("svg2_centroid_norms", ((rows + NormWarps - 1) / NormWarps, 1), NormWarps * 32, 0, stream, centroidsPointer, normsPointer, rows);
        var assignGrid = ((tokens + PointsPerBlock - 1) / PointsPerBlock, groups);
        if (library.Family == KernelFamily.Hopper)
            library.Launch("svg2_kmeans_assign_hopper", assignGrid, HopperAssignThreads,
                SharedAlignment + (PointsPerBlock + HopperStages * HopperCentroidTile) * rowBytes, stream,
                pointsPointer, centroidsPointer, normsPointer, labelsPointer, tokens, clusters);
        else
            library.Launch("svg2_kmeans_assign", assignGrid, AssignThreads, (PointsPerBlock + 2 * CentroidTile) * rowBytes, stream,
                pointsPointer, centroidsPointer, normsPointer, labelsPointer, tokens, clusters);
        CountingSort.Enqueue(library, labels, clusters, counts, sizes, offsets, permutation, stream);
        library.Launch("svg2_segment_means", (clusters, groups), MeanThreads, 0, stream, pointsPointer,
            DevicePointer.Of(permutation, ScalarType.Int64, nameof(permutation)), DevicePointer.Of(offsets, ScalarType.Int64, nameof(offsets)),
            centroidsPointer, centroidsPointer, tokens, clusters);
    }
}
