using TorchSharp;
using Svg2.Algorithm;
using Svg2.Attention;
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
/// <para>
/// With text rows (<see cref="TextTokens"/>, HunyuanVideo) only the video rows are clustered and
/// only the video clusters take part in the top-p selection. The layouts and the mask carry the two
/// text blocks after the video clusters (<see cref="TextBlocks"/>); their parts never change, so they
/// are written once here, and the kernels write only the video parts of them.
/// </para>
/// </remarks>
public sealed class CudaSvg2Pipeline : IDisposable
{
    readonly KernelLibrary _library;
    readonly Tensor _queryScratch, _keyScratch, _queryLabels, _keyLabels, _queryCounts, _keyCounts;
    readonly AttentionWorkspace _workspace;
    readonly long _videoQueryRows, _videoKeyRows;

    /// <summary>Allocates the buffers for G problems of Nq query and Nk key tokens.</summary>
    /// <param name="groups">G.</param>
    /// <param name="queryTokens">Nq, text rows included.</param>
    /// <param name="keyTokens">Nk, text rows included.</param>
    /// <param name="headDim">D.</param>
    /// <param name="queryClusters">QC, video query clusters.</param>
    /// <param name="keyClusters">KC, video key clusters.</param>
    /// <param name="dtype">Element type of q, k, v.</param>
    /// <param name="device">The CUDA device.</param>
    /// <param name="text">Trailing text rows of q and k (a joint self-attention, so Nq = Nk), or null.</param>
    public CudaSvg2Pipeline(long groups, long queryTokens, long keyTokens, int headDim, int queryClusters, int keyClusters, ScalarType dtype, Device device,
        TextTokens? text = null)
    {
        if (device.type != DeviceType.CUDA) throw new ArgumentException($"The CUDA pipeline needs a CUDA device; got {device}.");
        if (text is { } trailing)
        {
            if (queryTokens != keyTokens)
                throw new ArgumentException($"Text rows belong to a joint self-attention, so query and key rows must match; got {queryTokens} and {keyTokens}.", nameof(text));
            trailing.Validate(queryTokens);
        }
        _library = KernelLibrary.For(CudaDevice.Get(device.index < 0 ? 0 : device.index), dtype, headDim);
        QueryClusters = queryClusters;
        KeyClusters = keyClusters;
        Text = text;
        int textBlocks = text is null ? 0 : TextBlocks.Count;
        _videoQueryRows = queryTokens - (text?.Count ?? 0);
        _videoKeyRows = keyTokens - (text?.Count ?? 0);
        _queryScratch = KMeansKernels.AllocateCentroidScratch(_library, groups, queryClusters, device);
        _keyScratch = KMeansKernels.AllocateCentroidScratch(_library, groups, keyClusters, device);
        _queryLabels = empty([groups, _videoQueryRows], ScalarType.Int64, device);
        _keyLabels = empty([groups, _videoKeyRows], ScalarType.Int64, device);
        _queryCounts = CountingSort.AllocateCounts(groups, _videoQueryRows, queryClusters, device);
        _keyCounts = CountingSort.AllocateCounts(groups, _videoKeyRows, keyClusters, device);
        QueryLayout = AllocateLayout(groups, queryTokens, queryClusters + textBlocks, device);
        KeyLayout = AllocateLayout(groups, keyTokens, keyClusters + textBlocks, device);
        BlockMask = empty([groups, queryClusters + textBlocks, keyClusters + textBlocks], ScalarType.Bool, device);
        if (text is { } rows)
        {
            TextBlocks.WriteLayout(QueryLayout, rows);
            TextBlocks.WriteLayout(KeyLayout, rows);
            TextBlocks.WriteMask(BlockMask, queryClusters, keyClusters);
        }
        Output = empty([groups, queryTokens, headDim], dtype, device);
        _workspace = new AttentionWorkspace(groups, queryClusters + textBlocks, keyClusters + textBlocks, device);
    }

    static ClusterLayout AllocateLayout(long groups, long tokens, int clusters, Device device) =>
        new(empty([groups, tokens], ScalarType.Int64, device), empty([groups, clusters], ScalarType.Int64, device),
            empty([groups, clusters + 1], ScalarType.Int64, device));

    /// <summary>QC, the video query clusters.</summary>
    public int QueryClusters { get; }

    /// <summary>KC, the video key clusters.</summary>
    public int KeyClusters { get; }

    /// <summary>The trailing text rows, or null.</summary>
    public TextTokens? Text { get; }

    /// <summary>The query clusters of the last call; with text, the prompt and padding blocks follow the QC video clusters.</summary>
    public ClusterLayout QueryLayout { get; }

    /// <summary>The key clusters of the last call; with text, the prompt and padding blocks follow the KC video clusters.</summary>
    public ClusterLayout KeyLayout { get; }

    /// <summary>[G, QC, KC] the selection of the last call; [G, QC + 2, KC + 2] with the text blocks.</summary>
    public Tensor BlockMask { get; }

    /// <summary>[G, Nq, D] the attention output of the last call, original token order.</summary>
    public Tensor Output { get; }

    /// <summary>[G, QC] selected key tokens per query cluster of the last call.</summary>
    public Tensor SelectedKeys => _workspace.SelectedKeys;

    /// <summary>The device the pipeline runs on.</summary>
    public CudaDevice Device => _library.Device;

    /// <summary>Enqueues <paramref name="iterations"/> k-means iterations on q; <paramref name="queryCentroids"/> is updated in place.</summary>
    /// <param name="q">[G, Nq, D] queries; only the video rows are clustered.</param>
    /// <param name="queryCentroids">[G, QC, D] centroids, updated in place.</param>
    /// <param name="iterations">Lloyd iterations.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    /// <param name="afterStep">Called after each kernel step is enqueued (see <see cref="KMeansKernels.Steps"/>), for per-kernel timing.</param>
    public void EnqueueQueryKMeans(Tensor q, Tensor queryCentroids, int iterations, IntPtr stream = default, Action<string>? afterStep = null)
    {
        using var video = VideoRows(q, QueryLayout, _videoQueryRows, nameof(q));
        for (int i = 0; i < iterations; i++)
            KMeansKernels.EnqueueIteration(_library, video, queryCentroids, _queryScratch, _queryLabels, _queryCounts,
                QueryLayout.Sizes, QueryLayout.Offsets, QueryLayout.Permutation, stream, afterStep);
    }

    /// <summary>Enqueues <paramref name="iterations"/> k-means iterations on k; <paramref name="keyCentroids"/> is updated in place.</summary>
    /// <param name="k">[G, Nk, D] keys; only the video rows are clustered.</param>
    /// <param name="keyCentroids">[G, KC, D] centroids, updated in place.</param>
    /// <param name="iterations">Lloyd iterations.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    /// <param name="afterStep">Called after each kernel step is enqueued (see <see cref="KMeansKernels.Steps"/>), for per-kernel timing.</param>
    public void EnqueueKeyKMeans(Tensor k, Tensor keyCentroids, int iterations, IntPtr stream = default, Action<string>? afterStep = null)
    {
        using var video = VideoRows(k, KeyLayout, _videoKeyRows, nameof(k));
        for (int i = 0; i < iterations; i++)
            KMeansKernels.EnqueueIteration(_library, video, keyCentroids, _keyScratch, _keyLabels, _keyCounts,
                KeyLayout.Sizes, KeyLayout.Offsets, KeyLayout.Permutation, stream, afterStep);
    }

    /// <summary>The leading video rows of <paramref name="x"/> as a view (the kernels follow its group stride).</summary>
    static Tensor VideoRows(Tensor x, ClusterLayout layout, long videoRows, string name)
    {
        if (x.dim() != 3 || x.shape[0] != layout.Groups || x.shape[1] != layout.Tokens)
            throw new ArgumentException($"{name} must be [{layout.Groups}, {layout.Tokens}, D] for this pipeline; got [{string.Join(", ", x.shape)}].", name);
        return x.narrow(1, 0, videoRows);
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
