using Svg2.Algorithm;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// The selection of error-aware routing (selection.cu, <c>svg2_select_by_error</c>): the blocks of
/// <see cref="ErrorAwareSelection.Select"/>, bit for bit, one block per (problem, query cluster).
/// </summary>
internal static class ErrorAwareSelectionKernel
{
    /// <summary>Largest key-cluster count whose keys fit the kernel's shared memory on every supported GPU.</summary>
    public const int MaxKeyClusters = SelectionKernel.MaxKeyClusters;

    /// <summary>
    /// Enqueues the selection of <paramref name="scores"/> [G, QC, KC] float64 under <paramref name="rule"/>;
    /// writes the first QC rows and KC columns of <paramref name="mask"/> [G, QR, KR] bool (QR >= QC, KR >= KC;
    /// larger when text blocks follow the video clusters).
    /// </summary>
    public static void Enqueue(KernelLibrary library, Tensor scores, ErrorRoutingRule rule, Tensor mask, IntPtr stream)
    {
        TensorChecks.Require(scores, ScalarType.Float64, nameof(scores));
        if (scores.dim() != 3) throw new ArgumentException($"Routing scores must be [G, QC, KC]; got [{string.Join(", ", scores.shape)}].", nameof(scores));
        if (!(rule.Threshold >= 0)) throw new ArgumentException($"The routing threshold must be at least 0 (got {rule.Threshold}).", nameof(rule));
        int groups = (int)scores.shape[0], queryClusters = (int)scores.shape[1], keyClusters = (int)scores.shape[2];
        if (keyClusters > MaxKeyClusters)
            throw new ArgumentException($"The CUDA error-aware selection supports at most {MaxKeyClusters} key clusters; got {keyClusters}.", nameof(scores));
        if (mask.dim() != 3 || mask.shape[0] != groups || mask.shape[1] < queryClusters || mask.shape[2] < keyClusters)
            throw new ArgumentException($"The mask [{string.Join(", ", mask.shape)}] must be [{groups}, >= {queryClusters}, >= {keyClusters}].", nameof(mask));
        library.Launch("svg2_select_by_error", (queryClusters, groups), SelectionTraits.Threads, SelectionTraits.ErrorSharedBytes(keyClusters), stream,
            DevicePointer.Of(scores, ScalarType.Float64, nameof(scores)),
            DevicePointer.Of(mask, ScalarType.Bool, nameof(mask)),
            queryClusters, keyClusters, (int)mask.shape[1], (int)mask.shape[2], rule.MinimumKept(keyClusters), rule.Threshold);
    }
}
