using Svg2.Algorithm;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// Per-row compensation's light tail on the GPU (<c>svg2_compensation_tail</c>, attention.cu): from the blocks'
/// log-weights, the blocks that keep a key per row and the one term per query cluster the tail's skipped blocks
/// fold into, as <see cref="CompensationTail"/> and <see cref="ClusterCompensationTerms.FromLogits"/> give them, in
/// one kernel and one product instead of about twenty tensor operations over [G, QC, KC].
/// </summary>
internal static class CompensationTailKernel
{
    /// <summary>
    /// Writes the video region of <paramref name="compensable"/> (true: a key per row; false: the tail) and returns
    /// the tail's terms for every query cluster of the layout (text clusters approximate nothing).
    /// </summary>
    /// <param name="library">Kernels of the device.</param>
    /// <param name="logits">[G, QC, KC] float32 log-weights (<see cref="ClusterCompensationTerms.CentroidLogits"/>) of the video clusters.</param>
    /// <param name="blockMask">[G, QCl, KCl] bool: the blocks computed exactly, over the layout's clusters (QCl, KCl at least QC, KC).</param>
    /// <param name="valueMeans">[G, KC, D] mean values of the key clusters.</param>
    /// <param name="tailMass">τ in (0, 1).</param>
    /// <param name="compensable">[G, QCl, KCl] bool, contiguous: its video rows and columns are overwritten; the rest is left as it is.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    public static ClusterCompensationTerms Enqueue(KernelLibrary library, Tensor logits, Tensor blockMask, Tensor valueMeans, double tailMass, Tensor compensable,
        IntPtr stream)
    {
        long groups = logits.shape[0], queryClusters = logits.shape[1], keyClusters = logits.shape[2];
        long layoutQueryClusters = blockMask.shape[1], layoutKeyClusters = blockMask.shape[2];
        TensorChecks.RequireShape(blockMask, nameof(blockMask), groups, layoutQueryClusters, layoutKeyClusters);
        TensorChecks.RequireShape(compensable, nameof(compensable), groups, layoutQueryClusters, layoutKeyClusters);
        TensorChecks.RequireShape(valueMeans, nameof(valueMeans), groups, keyClusters, valueMeans.shape[2]);
        if (layoutQueryClusters < queryClusters || layoutKeyClusters < keyClusters)
            throw new ArgumentException($"A layout of {layoutQueryClusters} x {layoutKeyClusters} clusters cannot hold log-weights of {queryClusters} x {keyClusters}.");
        double threshold = CompensationTail.LogThreshold(tailMass, keyClusters);
        using var scope = NewDisposeScope();
        var values = valueMeans.to(ScalarType.Float32);
        var finite = values.isfinite().all(-1).contiguous();
        var weights = empty([groups, queryClusters, keyClusters], ScalarType.Float32, logits.device);
        var log2Weight = full([groups, layoutQueryClusters], float.NegativeInfinity, ScalarType.Float32, logits.device);
        var poisoned = empty([groups, queryClusters], ScalarType.Bool, logits.device);
        var contiguousLogits = logits.to(ScalarType.Float32).contiguous();
        library.Launch("svg2_compensation_tail", ((int)queryClusters, (int)groups), SparseAttentionTraits.RangeThreads, 0, stream,
            DevicePointer.Of(contiguousLogits, ScalarType.Float32, nameof(logits)), DevicePointer.Of(blockMask, ScalarType.Bool, nameof(blockMask)),
            DevicePointer.Of(finite, ScalarType.Bool, "value finiteness"), DevicePointer.Of(compensable, ScalarType.Bool, nameof(compensable)),
            DevicePointer.Of(weights, ScalarType.Float32, "tail weights"), DevicePointer.Of(log2Weight, ScalarType.Float32, "tail log2 weight"),
            DevicePointer.Of(poisoned, ScalarType.Bool, "poisoned"), (int)queryClusters, (int)keyClusters, (int)layoutQueryClusters, (int)layoutKeyClusters,
            (float)threshold);
        // A matrix product would spread a non-finite mean value through 0 x NaN: it reaches only the terms that fold its cluster.
        var value = weights.bmm(values.nan_to_num(0.0, 0.0, 0.0)).masked_fill(poisoned.unsqueeze(-1), double.NaN);
        if (layoutQueryClusters > queryClusters)
            value = cat([value, zeros([groups, layoutQueryClusters - queryClusters, value.shape[2]], ScalarType.Float32, value.device)], 1);
        var terms = new ClusterCompensationTerms(log2Weight, value.contiguous());
        terms.Log2Weight.MoveToOuterDisposeScope();
        terms.Value.MoveToOuterDisposeScope();
        return terms;
    }
}
