using Svg2.Algorithm;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>The size-weighted centroid top-p selection (selection.cu): one block per (problem, query cluster).</summary>
internal static class SelectionKernel
{
    /// <summary>Largest key-cluster count the in-shared-memory sort supports.</summary>
    public const int MaxKeyClusters = 8192;

    /// <summary>
    /// Enqueues the selection; writes the first QC rows and KC columns of <paramref name="mask"/>
    /// [G, QR, KR] bool (QR >= QC, KR >= KC; larger when text blocks follow the video clusters), from
    /// the first KC entries of <paramref name="keySizes"/> [G, KR].
    /// </summary>
    public static void Enqueue(KernelLibrary library, Tensor queryCentroids, Tensor keyCentroids, Tensor keySizes, SelectionRule rule, Tensor mask, IntPtr stream)
    {
        int groups = (int)queryCentroids.shape[0], queryClusters = (int)queryCentroids.shape[1], keyClusters = (int)keyCentroids.shape[1];
        if (keyClusters > MaxKeyClusters)
            throw new ArgumentException($"The CUDA selection supports at most {MaxKeyClusters} key clusters; got {keyClusters}.");
        if (mask.dim() != 3 || mask.shape[0] != groups || mask.shape[1] < queryClusters || mask.shape[2] < keyClusters)
            throw new ArgumentException($"The mask [{string.Join(", ", mask.shape)}] must be [{groups}, >= {queryClusters}, >= {keyClusters}].", nameof(mask));
        int maskRows = (int)mask.shape[1], maskColumns = (int)mask.shape[2];
        TensorChecks.RequireShape(keySizes, nameof(keySizes), groups, maskColumns);
        int padded = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)keyClusters);
        library.Launch("svg2_select_key_clusters", (queryClusters, groups), SelectionTraits.Threads, SelectionTraits.SharedBytes(padded, library.HeadDim), stream,
            DevicePointer.Of(queryCentroids, library.Element, nameof(queryCentroids)),
            DevicePointer.Of(keyCentroids, library.Element, nameof(keyCentroids)),
            DevicePointer.Of(keySizes, ScalarType.Int64, nameof(keySizes)),
            DevicePointer.Of(mask, ScalarType.Bool, nameof(mask)),
            queryClusters, keyClusters, maskRows, maskColumns, padded, (float)rule.TopP, rule.MinimumKept(keyClusters),
            (float)(1.0 / Math.Sqrt(library.HeadDim)), rule.Precision == SelectionPrecision.BFloat16Emulated ? 1 : 0);
    }
}
