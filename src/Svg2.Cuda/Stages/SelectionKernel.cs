using Svg2.Algorithm;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// The size-weighted centroid top-p selection (selection.cu): the centroid products in 64 x 64 tiles, then one
/// block per (problem, query cluster) ranks its row.
/// </summary>
internal static class SelectionKernel
{
    /// <summary>Largest key-cluster count the in-shared-memory sort supports.</summary>
    public const int MaxKeyClusters = 8192;

    /// <summary>[G, QC, KC] float32 scratch for the centroid products of <see cref="Enqueue"/>.</summary>
    public static Tensor AllocateDots(long groups, int queryClusters, int keyClusters, Device device) =>
        empty([groups, queryClusters, keyClusters], ScalarType.Float32, device);

    /// <summary>
    /// Enqueues the selection; writes the first QC rows and KC columns of <paramref name="mask"/>
    /// [G, QR, KR] bool (QR >= QC, KR >= KC; larger when text blocks follow the video clusters), from
    /// the first KC entries of <paramref name="keySizes"/> [G, KR]. <paramref name="dots"/> is
    /// scratch from <see cref="AllocateDots"/>.
    /// </summary>
    public static void Enqueue(KernelLibrary library, Tensor queryCentroids, Tensor keyCentroids, Tensor keySizes, SelectionRule rule, Tensor mask, Tensor dots,
        IntPtr stream)
    {
        int groups = (int)queryCentroids.shape[0], queryClusters = (int)queryCentroids.shape[1], keyClusters = (int)keyCentroids.shape[1];
        if (keyClusters > MaxKeyClusters)
            throw new ArgumentException($"The CUDA selection supports at most {MaxKeyClusters} key clusters; got {keyClusters}.");
        if (mask.dim() != 3 || mask.shape[0] != groups || mask.shape[1] < queryClusters || mask.shape[2] < keyClusters)
            throw new ArgumentException($"The mask [{string.Join(", ", mask.shape)}] must be [{groups}, >= {queryClusters}, >= {keyClusters}].", nameof(mask));
        int maskRows = (int)mask.shape[1], maskColumns = (int)mask.shape[2];
        TensorChecks.RequireShape(keySizes, nameof(keySizes), groups, maskColumns);
        TensorChecks.RequireShape(dots, nameof(dots), groups, queryClusters, keyClusters);
        int padded = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)keyClusters);
        var dotsPointer = DevicePointer.Of(dots, ScalarType.Float32, nameof(dots));
        library.Launch("svg2_centroid_dots", (SelectionTraits.DotTiles(queryClusters, keyClusters), groups), SelectionTraits.Threads, 0, stream,
            DevicePointer.Of(queryCentroids, library.Element, nameof(queryCentroids)),
            DevicePointer.Of(keyCentroids, library.Element, nameof(keyCentroids)),
            dotsPointer, queryClusters, keyClusters);
        library.Launch("svg2_select_key_clusters", (queryClusters, groups), SelectionTraits.Threads, SelectionTraits.SharedBytes(padded), stream,
            dotsPointer,
            DevicePointer.Of(keySizes, ScalarType.Int64, nameof(keySizes)),
            DevicePointer.Of(mask, ScalarType.Bool, nameof(mask)),
            queryClusters, keyClusters, maskRows, maskColumns, padded, (float)rule.TopP, rule.MinimumKept(keyClusters),
            (float)(1.0 / Math.Sqrt(library.HeadDim)), rule.Precision == SelectionPrecision.BFloat16Emulated ? 1 : 0);
    }
}
