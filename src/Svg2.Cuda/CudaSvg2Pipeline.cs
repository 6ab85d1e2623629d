using TorchSharp;
using Svg2.Algorithm;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using static TorchSharp.torch;

namespace Svg2.Cuda;

/// <summary>
/// The operator's steady-state call fused on the GPU for one shape: k-means on q and k warm-started
/// from (and updating) the cached centroids, selection, range list and tile plan, and the sparse
/// attention with the permutations folded into its loads and store. Every buffer is allocated once,
/// so a whole call is a fixed sequence of kernel launches with no host reads: it can be captured into
/// a CUDA graph (see <see cref="CudaGraphCapture"/>).
/// </summary>
/// <remarks>
/// The permutation of the last k-means iteration is the layout the attention uses, so no separate
/// permutation pass and no permuted copies of q, k, v exist. Extra memory: labels, permutations,
/// counters (O(G x N)), the range list (O(G x QC x KC)) and the output.
/// </remarks>
public sealed class CudaSvg2Pipeline : IDisposable
{
    readonly KernelLibrary _library;
    readonly Tensor _queryScratch, _keyScratch, _queryLabels, _keyLabels, _queryCounts, _keyCounts;
    readonly AttentionWorkspace _workspace;

    /// <summary>Allocates the buffers for G problems of Nq query and Nk key tokens.</summary>
    public CudaSvg2Pipeline(long groups, long queryTokens, long keyTokens, int headDim, int queryClusters, int keyClusters, ScalarType dtype, Device device)
    {
        if (device.type != DeviceType.CUDA) throw new ArgumentException($"The CUDA pipeline needs a CUDA device; got {device}.");
        _library = KernelLibrary.For(CudaDevice.Get(device.index < 0 ? 0 : device.index), dtype, headDim);
        QueryClusters = queryClusters;
        KeyClusters = keyClusters;
        _queryScratch = KMeansKernels.AllocateCentroidScratch(_library, groups, queryClusters, device);
        _keyScratch = KMeansKernels.AllocateCentroidScratch(_library, groups, keyClusters, device);
        _queryLabels = empty([groups, queryTokens], ScalarType.Int64, device);
        _keyLabels = empty([groups, keyTokens], ScalarType.Int64, device);
        _queryCounts = CountingSort.AllocateCounts(groups, queryTokens, queryClusters, device);
        _keyCounts = CountingSort.AllocateCounts(groups, keyTokens, keyClusters, device);
        QueryLayout = new ClusterLayout(empty([groups, queryTokens], ScalarType.Int64, device),
            empty([groups, queryClusters], ScalarType.Int64, device), empty([groups, queryClusters + 1], ScalarType.Int64, device));
        KeyLayout = new ClusterLayout(empty([groups, keyTokens], ScalarType.Int64, device),
            empty([groups, keyClusters], ScalarType.Int64, device), empty([groups, keyClusters + 1], ScalarType.Int64, device));
        BlockMask = empty([groups, queryClusters, keyClusters], ScalarType.Bool, device);
        Output = empty([groups, queryTokens, headDim], dtype, device);
        _workspace = new AttentionWorkspace(groups, queryClusters, keyClusters, device);
    }

    /// <summary>QC.</summary>
    public int QueryClusters { get; }

    /// <summary>KC.</summary>
    public int KeyClusters { get; }

    /// <summary>The query clusters of the last call.</summary>
    public ClusterLayout QueryLayout { get; }

    /// <summary>The key clusters of the last call.</summary>
    public ClusterLayout KeyLayout { get; }

    /// <summary>[G, QC, KC] the selection of the last call.</summary>
    public Tensor BlockMask { get; }

    /// <summary>[G, Nq, D] the attention output of the last call, original token order.</summary>
    public Tensor Output { get; }

    /// <summary>[G, QC] selected key tokens per query cluster of the last call.</summary>
    public Tensor SelectedKeys => _workspace.SelectedKeys;

    /// <summary>The device the pipeline runs on.</summary>
    public CudaDevice Device => _library.Device;

    /// <summary>Enqueues <paramref name="iterations"/> k-means iterations on q; <paramref name="queryCentroids"/> is updated in place.</summary>
    /// <param name="q">[G, Nq, D] queries.</param>
    /// <param name="queryCentroids">[G, QC, D] centroids, updated in place.</param>
    /// <param name="iterations">Lloyd iterations.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    /// <param name="afterStep">Called after each kernel step is enqueued (see <see cref="KMeansKernels.Steps"/>), for per-kernel timing.</param>
    public void EnqueueQueryKMeans(Tensor q, Tensor queryCentroids, int iterations, IntPtr stream = default, Action<string>? afterStep = null)
    {
        for (int i = 0; i < iterations; i++)
            KMeansKernels.EnqueueIteration(_library, q, queryCentroids, _queryScratch, _queryLabels, _queryCounts,
                QueryLayout.Sizes, QueryLayout.Offsets, QueryLayout.Permutation, stream, afterStep);
    }

    /// <summary>Enqueues <paramref name="iterations"/> k-means iterations on k; <paramref name="keyCentroids"/> is updated in place.</summary>
    /// <param name="k">[G, Nk, D] keys.</param>
    /// <param name="keyCentroids">[G, KC, D] centroids, updated in place.</param>
    /// <param name="iterations">Lloyd iterations.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    /// <param name="afterStep">Called after each kernel step is enqueued (see <see cref="KMeansKernels.Steps"/>), for per-kernel timing.</param>
    public void EnqueueKeyKMeans(Tensor k, Tensor keyCentroids, int iterations, IntPtr stream = default, Action<string>? afterStep = null)
    {
        for (int i = 0; i < iterations; i++)
            KMeansKernels.EnqueueIteration(_library, k, keyCentroids, _keyScratch, _keyLabels, _keyCounts,
                KeyLayout.Sizes, KeyLayout.Offsets, KeyLayout.Permutation, stream, afterStep);
    }

    /// <summary>Enqueues the selection from the current centroids and key sizes, then the range list and tile plan.</summary>
    public void EnqueueSelection(Tensor queryCentroids, Tensor keyCentroids, SelectionRule rule, IntPtr stream = default)
    {
        SelectionKernel.Enqueue(_library, queryCentroids, keyCentroids, KeyLayout.Sizes, rule, BlockMask, stream);
        EnqueuePlan(stream);
    }

    /// <summary>Enqueues the range list and tile plan for the current <see cref="BlockMask"/> and layouts.</summary>
    public void EnqueuePlan(IntPtr stream = default) =>
        SparseAttentionKernels.EnqueuePlan(_library, QueryLayout, KeyLayout, BlockMask, _workspace, stream);

    /// <summary>Enqueues the sparse attention into <see cref="Output"/>.</summary>
    public void EnqueueAttention(Tensor q, Tensor k, Tensor v, double scale, IntPtr stream = default) =>
        SparseAttentionKernels.EnqueueAttention(_library, q, k, v, Output, QueryLayout, KeyLayout, _workspace, scale, stream);

    /// <summary>Enqueues a whole steady-state call.</summary>
    public void Enqueue(Tensor q, Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, int iterations, SelectionRule rule, IntPtr stream = default)
    {
        EnqueueQueryKMeans(q, queryCentroids, iterations, stream);
        EnqueueKeyKMeans(k, keyCentroids, iterations, stream);
        EnqueueSelection(queryCentroids, keyCentroids, rule, stream);
        EnqueueAttention(q, k, v, 1.0 / Math.Sqrt(q.shape[2]), stream);
    }

    /// <summary>
    /// Per-problem density of the last call, sum_i |Q_i| x selected keys_i / (Nq x Nk), as float64 [G]
    /// (computed with TorchSharp on the device; reading it is a host sync).
    /// </summary>
    public Tensor Density()
    {
        using var scope = NewDisposeScope();
        var computed = (QueryLayout.Sizes.to(ScalarType.Float64) * _workspace.SelectedKeys.to(ScalarType.Float64)).sum(1);
        return (computed / ((double)QueryLayout.Tokens * KeyLayout.Tokens)).MoveToOuterDisposeScope();
    }

    /// <summary>Sum over problems of |Q_i| x selected keys_i: the computed score entries (for effective FLOP/s).</summary>
    public Tensor ComputedEntries() =>
        (QueryLayout.Sizes.to(ScalarType.Float64) * _workspace.SelectedKeys.to(ScalarType.Float64)).sum();

    /// <summary>Device memory of the pipeline's own buffers (output excluded), in bytes.</summary>
    public long BufferBytes =>
        new[] { _queryScratch, _keyScratch, _queryLabels, _keyLabels, _queryCounts, _keyCounts, BlockMask,
                QueryLayout.Permutation, QueryLayout.Sizes, QueryLayout.Offsets, KeyLayout.Permutation, KeyLayout.Sizes, KeyLayout.Offsets,
                _workspace.RangeStart, _workspace.RangeEnd, _workspace.RangeCount, _workspace.SelectedKeys, _workspace.Order, _workspace.TileStart }
            .Sum(t => t.numel() * t.ElementSize);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in new[] { _queryScratch, _keyScratch, _queryLabels, _keyLabels, _queryCounts, _keyCounts, BlockMask, Output })
            tensor.Dispose();
        QueryLayout.Dispose();
        KeyLayout.Dispose();
        _workspace.Dispose();
    }
}
