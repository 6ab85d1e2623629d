using Svg2.Algorithm;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// The inputs of per-row centroid compensation in the Hopper attention kernel (compensation.cuh):
/// every compensable key cluster a query cluster leaves out, if not empty, is one more key of its
/// virtual key sequence, with the cluster's centroid c_b as key, its mean value v̄_b as value and the
/// score bias ln(n_b) / scale, so each row's online softmax takes n_b exp(q_i . c_b * scale) exactly
/// as the reference's extra columns do (<see cref="CompensationMode.PerRow"/>).
/// </summary>
internal sealed class CentroidKeys : IDisposable
{
    CentroidKeys(Tensor keys, Tensor values, Tensor bias, Tensor list, Tensor count) =>
        (Keys, Values, Bias, List, Count) = (keys, values, bias, list, count);

    /// <summary>[G, KCc, D] centroids, the element type of the attention.</summary>
    public Tensor Keys { get; }

    /// <summary>[G, KCc, D] mean values, the element type of the attention.</summary>
    public Tensor Values { get; }

    /// <summary>[G, KCc] float32 score bias ln(n_b) / scale.</summary>
    public Tensor Bias { get; }

    /// <summary>[G, QC, KC] int32: per query cluster, the ids of the clusters it approximates, in order.</summary>
    public Tensor List { get; }

    /// <summary>[G, QC] int32: how many.</summary>
    public Tensor Count { get; }

    /// <summary>KCc, the clusters the centroid tensors hold (the listed ids are below it).</summary>
    public int Clusters => (int)Keys.shape[1];

    /// <summary>Converts the means and enqueues the listing of every query cluster's approximated clusters.</summary>
    /// <param name="library">Kernels of the device (the attention's element type and head dimension).</param>
    /// <param name="keyMeans">[G, KCc, D] key cluster means, any floating dtype.</param>
    /// <param name="valueMeans">[G, KCc, D] mean values.</param>
    /// <param name="keySizes">[G, KCc] int64 cluster sizes.</param>
    /// <param name="blockMask">[G, QC, KC] bool: the blocks computed exactly (KC &gt;= KCc).</param>
    /// <param name="compensable">[G, QC, KC] bool: the blocks that may be approximated; only clusters below KCc.</param>
    /// <param name="keyLayout">The key layout of the attention (its offsets give empty clusters).</param>
    /// <param name="scale">Softmax scale.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    public static CentroidKeys Enqueue(KernelLibrary library, Tensor keyMeans, Tensor valueMeans, Tensor keySizes, Tensor blockMask, Tensor compensable,
        ClusterLayout keyLayout, double scale, IntPtr stream)
    {
        if (library.Family != KernelFamily.Hopper)
            throw new ArgumentException("Per-row centroid compensation runs in the Hopper attention kernel; this GPU uses the portable kernels.");
        long groups = blockMask.shape[0], queryClusters = blockMask.shape[1], keyClusters = blockMask.shape[2], clusters = keyMeans.shape[1];
        TensorChecks.RequireShape(keyMeans, nameof(keyMeans), groups, clusters, library.HeadDim);
        TensorChecks.RequireShape(valueMeans, nameof(valueMeans), groups, clusters, library.HeadDim);
        TensorChecks.RequireShape(keySizes, nameof(keySizes), groups, clusters);
        TensorChecks.RequireShape(compensable, nameof(compensable), groups, queryClusters, keyClusters);
        if (clusters > keyClusters) throw new ArgumentException($"{clusters} centroids for a mask of {keyClusters} key clusters.");
        using var scope = NewDisposeScope();
        var result = new CentroidKeys(keyMeans.to(library.Element).contiguous(), valueMeans.to(library.Element).contiguous(),
            (keySizes.to(ScalarType.Float32).log() / scale).contiguous(),
            empty([groups, queryClusters, keyClusters], ScalarType.Int32, blockMask.device), empty([groups, queryClusters], ScalarType.Int32, blockMask.device));
        // The listing reads every compensable column, so none may name a cluster without a centroid.
        if (clusters < keyClusters)
        {
            compensable = compensable.clone();
            compensable.narrow(2, clusters, keyClusters - clusters).fill_(false);
        }
        library.Launch("svg2_centroid_keys", ((int)queryClusters, (int)groups), SparseAttentionTraits.RangeThreads, 0, stream,
            DevicePointer.Of(blockMask, ScalarType.Bool, nameof(blockMask)), DevicePointer.Of(compensable, ScalarType.Bool, nameof(compensable)),
            DevicePointer.Of(keyLayout.Offsets, ScalarType.Int64, "keyLayout.Offsets"),
            DevicePointer.Of(result.List, ScalarType.Int32, nameof(List)), DevicePointer.Of(result.Count, ScalarType.Int32, nameof(Count)),
            (int)queryClusters, (int)keyClusters);
        foreach (var tensor in result.Tensors()) tensor.MoveToOuterDisposeScope();
        return result;
    }

    IEnumerable<Tensor> Tensors() => [Keys, Values, Bias, List, Count];

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in Tensors()) tensor.Dispose();
    }
}
