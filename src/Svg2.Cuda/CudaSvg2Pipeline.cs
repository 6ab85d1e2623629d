using Svg2.Configuration;
using Svg2.Algorithm;
using Svg2.Attention.Fp8;
using Svg2.Attention;
using Svg2.Backends;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using TorchSharp;
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
/// <para>
/// The buffers belong to the pipeline, not to any dispose scope active when it is made: dispose the
/// pipeline (or the <see cref="CudaBackend"/> that caches it) to free them. <see cref="Output"/> is
/// allocated on first use, so a pipeline that attends into callers' tensors (as
/// <see cref="Svg2Attention"/> does) never holds one.
/// </para>
/// </remarks>
public sealed class CudaSvg2Pipeline : IFusedSvg2Pipeline, IDisposable
{
    readonly KernelLibrary _library;
    readonly Tensor _queryScratch, _keyScratch, _labels, _queryLabels, _keyLabels, _queryCounts, _keyCounts, _centroidDots, _statistics;
    readonly AttentionWorkspace _workspace;
    readonly CudaStreamFork _fork;
    readonly long _videoQueryRows, _videoKeyRows;
    readonly long _groups, _queryTokens;
    readonly int _headDim;
    readonly ScalarType _dtype;
    readonly Device _device;
    Tensor? _output, _valueMeans, _compensable, _tailCompensable;
    long _keyLayoutVersion;
    (long KeyLayoutVersion, ulong Values)? _valueMeansOf;

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
        (_groups, _queryTokens, _headDim, _dtype, _device) = (groups, queryTokens, headDim, dtype, device);
        QueryClusters = queryClusters;
        KeyClusters = keyClusters;
        Text = text;
        int textBlocks = text is null ? 0 : TextBlocks.Count;
        _videoQueryRows = queryTokens - (text?.Count ?? 0);
        _videoKeyRows = keyTokens - (text?.Count ?? 0);
        _queryScratch = KMeansKernels.AllocateCentroidScratch(_library, groups, queryClusters, device);
        _keyScratch = KMeansKernels.AllocateCentroidScratch(_library, groups, keyClusters, device);
        // Query and key labels in one buffer, so that a call's copy of them is one copy.
        _labels = empty(groups * (_videoQueryRows + _videoKeyRows), ScalarType.Int64, device);
        _queryLabels = LabelsIn(_labels, 0, groups, _videoQueryRows);
        _keyLabels = LabelsIn(_labels, groups * _videoQueryRows, groups, _videoKeyRows);
        _queryCounts = CountingSort.AllocateCounts(groups, _videoQueryRows, queryClusters, device);
        _keyCounts = CountingSort.AllocateCounts(groups, _videoKeyRows, keyClusters, device);
        QueryLayout = AllocateLayout(groups, queryTokens, queryClusters + textBlocks, device);
        KeyLayout = AllocateLayout(groups, keyTokens, keyClusters + textBlocks, device);
        BlockMask = empty([groups, queryClusters + textBlocks, keyClusters + textBlocks], ScalarType.Bool, device);
        _centroidDots = SelectionKernel.AllocateDots(groups, queryClusters, keyClusters, device);
        _statistics = empty([2, groups], ScalarType.Float64, device);
        if (text is { } rows)
        {
            TextBlocks.WriteLayout(QueryLayout, rows);
            TextBlocks.WriteLayout(KeyLayout, rows);
            TextBlocks.WriteMask(BlockMask, queryClusters, keyClusters);
        }
        _workspace = new AttentionWorkspace(groups, queryClusters + textBlocks, keyClusters + textBlocks, device, TailPairSetting.Enabled);
        _fork = new CudaStreamFork(_library.Device);
        // A pipeline made inside a dispose scope (a model's forward) outlives it: it owns its buffers.
        foreach (var buffer in Buffers()) buffer.DetachFromDisposeScope();
        _queryLabels.DetachFromDisposeScope();
        _keyLabels.DetachFromDisposeScope();
    }

    /// <summary>[G, rows] labels at element <paramref name="first"/> of the flat labels buffer <paramref name="labels"/> (a view).</summary>
    static Tensor LabelsIn(Tensor labels, long first, long groups, long rows) => labels.narrow(0, first, groups * rows).view(groups, rows);

    /// <summary>Every buffer the pipeline owns, <see cref="Output"/> excluded (the label views are part of the labels buffer).</summary>
    IEnumerable<Tensor> Buffers() =>
        [_queryScratch, _keyScratch, _labels, _queryCounts, _keyCounts, BlockMask, _centroidDots, _statistics,
         QueryLayout.Permutation, QueryLayout.Sizes, QueryLayout.Offsets, KeyLayout.Permutation, KeyLayout.Sizes, KeyLayout.Offsets,
         .. _workspace.Buffers];

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

    /// <summary>
    /// [G, Nq, D] the output of the last <see cref="EnqueueAttention(Tensor, Tensor, Tensor, double, IntPtr)"/>,
    /// original token order; allocated on first use and overwritten by every such call.
    /// </summary>
    public Tensor Output => _output ??= empty([_groups, _queryTokens, _headDim], _dtype, _device).DetachFromDisposeScope();

    /// <summary>[G, Sv] int64 query cluster of every video row, from the last k-means iteration on q (overwritten by the next).</summary>
    public Tensor VideoQueryLabels => _queryLabels;

    /// <summary>[G, Sv] int64 key cluster of every video row, from the last k-means iteration on k (overwritten by the next).</summary>
    public Tensor VideoKeyLabels => _keyLabels;

    /// <summary>The shape the pipeline was sized for (self-attention: as many query as key rows).</summary>
    public FusedShape Shape => new(_groups, _queryTokens, _headDim, QueryClusters, KeyClusters, _dtype, DeviceType.CUDA, _library.Device.Ordinal, Text);

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
    /// <param name="precision">The distance products' numerics; FP8 needs the Hopper kernels (<see cref="NotSupportedException"/> elsewhere).</param>
    public void EnqueueQueryKMeans(Tensor q, Tensor queryCentroids, int iterations, IntPtr stream = default, Action<string>? afterStep = null,
        KMeansPrecision precision = KMeansPrecision.Input)
    {
        using var centre = KMeansKernels.CentreFor(precision, queryCentroids);
        EnqueueQueryIterations(q, queryCentroids, queryCentroids, iterations, stream, afterStep, centre);
    }

    /// <summary>Enqueues <paramref name="iterations"/> k-means iterations on k; <paramref name="keyCentroids"/> is updated in place.</summary>
    /// <param name="k">[G, Nk, D] keys; only the video rows are clustered.</param>
    /// <param name="keyCentroids">[G, KC, D] centroids, updated in place.</param>
    /// <param name="iterations">Lloyd iterations.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    /// <param name="afterStep">Called after each kernel step is enqueued (see <see cref="KMeansKernels.Steps"/>), for per-kernel timing.</param>
    /// <param name="precision">The distance products' numerics; FP8 needs the Hopper kernels (<see cref="NotSupportedException"/> elsewhere).</param>
    public void EnqueueKeyKMeans(Tensor k, Tensor keyCentroids, int iterations, IntPtr stream = default, Action<string>? afterStep = null,
        KMeansPrecision precision = KMeansPrecision.Input)
    {
        using var centre = KMeansKernels.CentreFor(precision, keyCentroids);
        EnqueueKeyIterations(k, keyCentroids, keyCentroids, iterations, stream, afterStep, centre);
    }

    /// <summary>
    /// Enqueues <paramref name="iterations"/> k-means iterations on q and on k, the two chains side by side: the
    /// keys' on a stream forked from <paramref name="stream"/>, joined back before this returns. Their small kernels
    /// (centroid tiles, counting sort, member means) leave most of the GPU idle when run back to back.
    /// </summary>
    /// <param name="q">[G, Nq, D] queries; only the video rows are clustered.</param>
    /// <param name="k">[G, Nk, D] keys; only the video rows are clustered.</param>
    /// <param name="queryCentroids">[G, QC, D] centroids: the output, and the start unless <paramref name="queryStart"/> is given.</param>
    /// <param name="keyCentroids">[G, KC, D] centroids: the output, and the start unless <paramref name="keyStart"/> is given.</param>
    /// <param name="iterations">Lloyd iterations of each.</param>
    /// <param name="stream">CUDA stream (0 = legacy default); a stream under graph capture gives two parallel branches.</param>
    /// <param name="precision">The distance products' numerics; FP8 needs the Hopper kernels (<see cref="NotSupportedException"/> elsewhere).</param>
    /// <param name="queryStart">[G, QC, D] centroids q's iterations start from, read only (the first iteration writes every row of
    /// <paramref name="queryCentroids"/>); null: <paramref name="queryCentroids"/>, updated in place.</param>
    /// <param name="keyStart">[G, KC, D] as <paramref name="queryStart"/>, for k.</param>
    public void EnqueueKMeans(Tensor q, Tensor k, Tensor queryCentroids, Tensor keyCentroids, int iterations, IntPtr stream = default,
        KMeansPrecision precision = KMeansPrecision.Input, Tensor? queryStart = null, Tensor? keyStart = null)
    {
        queryStart ??= queryCentroids;
        keyStart ??= keyCentroids;
        RequireCentroids(queryCentroids, QueryClusters, nameof(queryCentroids), iterations);
        RequireCentroids(keyCentroids, KeyClusters, nameof(keyCentroids), iterations);
        RequireCentroids(queryStart, QueryClusters, nameof(queryStart), iterations);
        RequireCentroids(keyStart, KeyClusters, nameof(keyStart), iterations);
        // Both centres exist before the fork and are freed after the join (see CudaStreamFork).
        using var queryCentre = KMeansKernels.CentreFor(precision, queryStart);
        using var keyCentre = KMeansKernels.CentreFor(precision, keyStart);
        var side = _fork.Fork(stream);
        try
        {
            EnqueueKeyIterations(k, keyStart, keyCentroids, iterations, side, null, keyCentre);
            EnqueueQueryIterations(q, queryStart, queryCentroids, iterations, stream, null, queryCentre);
        }
        finally
        {
            // Joined even when a check throws, so that a stream under capture never ends with a branch left open.
            _fork.Join(stream);
        }
    }

    void EnqueueQueryIterations(Tensor q, Tensor start, Tensor queryCentroids, int iterations, IntPtr stream, Action<string>? afterStep, Tensor? centre) =>
        EnqueueIterations(q, nameof(q), QueryLayout, _videoQueryRows, start, queryCentroids, _queryScratch, _queryLabels, _queryCounts, iterations, stream,
            afterStep, centre);

    void EnqueueKeyIterations(Tensor k, Tensor start, Tensor keyCentroids, int iterations, IntPtr stream, Action<string>? afterStep, Tensor? centre)
    {
        _keyLayoutVersion++;
        EnqueueIterations(k, nameof(k), KeyLayout, _videoKeyRows, start, keyCentroids, _keyScratch, _keyLabels, _keyCounts, iterations, stream, afterStep,
            centre);
    }

    /// <summary>
    /// The iterations of one side (queries or keys) over its video rows, into its layout and scratch: the first from
    /// <paramref name="start"/> into <paramref name="centroids"/>, the others in place.
    /// </summary>
    void EnqueueIterations(Tensor x, string name, ClusterLayout layout, long videoRows, Tensor start, Tensor centroids, Tensor scratch, Tensor labels,
        Tensor counts, int iterations, IntPtr stream, Action<string>? afterStep, Tensor? centre)
    {
        using var video = VideoRows(x, layout, videoRows, name);
        // Where it can, each iteration's means write the next one's centroid tile image: only the first prepares its own.
        bool chained = KMeansKernels.MeansWriteImages(_library, centre);
        for (int i = 0; i < iterations; i++)
            KMeansKernels.EnqueueIteration(_library, video, i == 0 ? start : centroids, centroids, scratch, labels, counts, layout.Sizes, layout.Offsets,
                layout.Permutation, stream, afterStep, centre, startImageWritten: chained && i > 0, writeImage: chained && i < iterations - 1);
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
        SelectionKernel.Enqueue(_library, queryCentroids, keyCentroids, KeyLayout.Sizes, rule, BlockMask, _centroidDots, stream);
        EnqueuePlan(rule.MinimumKept(KeyClusters), stream);
    }

    /// <summary>
    /// Enqueues the range list and tile plan for the current <see cref="BlockMask"/> and layouts, and with them the
    /// statistics of <see cref="Density"/> and <see cref="CopySelection"/>.
    /// </summary>
    /// <param name="minimumKept">The minimum of the rule that selected the mask (see <see cref="SelectionFloor"/>).</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    public void EnqueuePlan(int minimumKept, IntPtr stream = default) =>
        SparseAttentionKernels.EnqueuePlan(_library, QueryLayout, KeyLayout, BlockMask, _workspace, stream,
            new PlanStatistics(_statistics, QueryClusters, KeyClusters, minimumKept));

    /// <summary>Enqueues the sparse attention into <see cref="Output"/>.</summary>
    public void EnqueueAttention(Tensor q, Tensor k, Tensor v, double scale, IntPtr stream = default) =>
        EnqueueAttention(q, k, v, Output, scale, stream);

    /// <summary>
    /// Enqueues the sparse attention into <paramref name="output"/> [G, Nq, D] (contiguous, the dtype of q):
    /// for callers whose output must outlive the next call of a shared pipeline.
    /// </summary>
    public void EnqueueAttention(Tensor q, Tensor k, Tensor v, Tensor output, double scale, IntPtr stream = default)
    {
        TensorChecks.Require(output, _dtype, nameof(output));
        TensorChecks.RequireShape(output, nameof(output), _groups, _queryTokens, _headDim);
        SparseAttentionKernels.EnqueueAttention(_library, q, k, v, output, QueryLayout, KeyLayout, _workspace, scale, stream);
    }

    /// <summary>
    /// Enqueues FP8 attention of the current plan into <paramref name="output"/> [G, Nq, D] (contiguous, the dtype of
    /// q): the quantisation of q, k and v, then the Hopper FP8 kernel (<see cref="Fp8AttentionKernels"/>).
    /// </summary>
    /// <exception cref="NotSupportedException">The GPU or the settings are not the kernels' (<see cref="Fp8AttentionKernels.Unsupported"/>).</exception>
    /// <param name="q">[G, Nq, D], contiguous.</param>
    /// <param name="k">[G, Nk, D], contiguous.</param>
    /// <param name="v">[G, Nk, D], contiguous.</param>
    /// <param name="output">[G, Nq, D] output.</param>
    /// <param name="scale">Softmax scale.</param>
    /// <param name="settings">Scale granularity (per token only) and K smoothing.</param>
    /// <param name="stream">CUDA stream of the kernels (the quantisation's TorchSharp reductions run on TorchSharp's).</param>
    /// <param name="afterStep">Called with "quantisation" and "attention" after each is enqueued (for timing).</param>
    public void EnqueueFp8Attention(Tensor q, Tensor k, Tensor v, Tensor output, double scale, Fp8AttentionSettings settings, IntPtr stream = default,
        Action<string>? afterStep = null)
    {
        if (Fp8AttentionKernels.Unsupported(_library, settings) is { } reason) throw new NotSupportedException(reason);
        Fp8Tiles.RequireHeadDim(_headDim);
        TensorChecks.Require(output, _dtype, nameof(output));
        TensorChecks.RequireShape(output, nameof(output), _groups, _queryTokens, _headDim);
        using var operands = Fp8AttentionKernels.Quantize(_library, q, k, v, settings, stream);
        afterStep?.Invoke("quantisation");
        Fp8AttentionKernels.EnqueueAttention(_library, operands, output, QueryLayout, KeyLayout, _workspace, scale, stream);
        afterStep?.Invoke("attention");
    }

    /// <summary>Per query cluster on every GPU; per row with the Hopper kernels.</summary>
    public bool Compensates(CompensationMode mode) =>
        mode == CompensationMode.PerQueryCluster || (mode == CompensationMode.PerRow && _library.Family == KernelFamily.Hopper);

    /// <summary>
    /// Enqueues the sparse attention of the current selection with centroid compensation of every
    /// video block it leaves out, into <paramref name="output"/>: the mean values of the key clusters
    /// (segment means over the key layout), then per query cluster the terms of
    /// <see cref="ClusterCompensationTerms"/> (small TorchSharp operations on the current stream), which
    /// the kernel merges at its store, or per row the <see cref="CentroidKeys"/> the Hopper kernel
    /// attends after the exact keys.
    /// </summary>
    /// <param name="q">[G, Nq, D].</param>
    /// <param name="k">[G, Nk, D].</param>
    /// <param name="v">[G, Nk, D].</param>
    /// <param name="queryCentroids">[G, QC, D] after the last k-means iterations on q: the member means of the query layout.</param>
    /// <param name="keyCentroids">[G, KC, D] after the last k-means iterations on k: the member means of the key layout.</param>
    /// <param name="output">[G, Nq, D] (contiguous, the dtype of q).</param>
    /// <param name="scale">Softmax scale.</param>
    /// <param name="mode">Per query cluster or per row (see <see cref="Compensates"/>).</param>
    /// <param name="tailMass">Per row: τ of <see cref="CompensationTail"/>, whose blocks join one term per query cluster; 0: none.</param>
    public void EnqueueCompensatedAttention(Tensor q, Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, Tensor output, double scale,
        CompensationMode mode, double tailMass = 0)
    {
        if (!Compensates(mode)) throw new ArgumentException($"This pipeline cannot compensate {mode} (per row needs the Hopper kernels).", nameof(mode));
        RequireCentroids(queryCentroids, QueryClusters, nameof(queryCentroids), 1);
        RequireCentroids(keyCentroids, KeyClusters, nameof(keyCentroids), 1);
        TensorChecks.Require(output, _dtype, nameof(output));
        TensorChecks.RequireShape(output, nameof(output), _groups, _queryTokens, _headDim);
        using var scope = NewDisposeScope();
        var valueMeans = EnqueueValueMeans(v);
        // The probe's means serve this call's attention only: a later call recomputes them, even for a v at the same address.
        _valueMeansOf = null;
        var keySizes = KeyLayout.Sizes.narrow(1, 0, KeyClusters);
        // The blocks' log-weights, when some of them fold into one term per query cluster.
        var logits = mode == CompensationMode.PerQueryCluster || tailMass > 0 ? ClusterCompensationTerms.CentroidLogits(queryCentroids, keyCentroids, keySizes, scale) : null;
        if (mode == CompensationMode.PerQueryCluster)
        {
            var skipped = BlockMask.narrow(1, 0, QueryClusters).narrow(2, 0, KeyClusters).logical_not();
            using var clusterTerms = ClusterCompensationTerms.FromLogits(logits!, valueMeans, skipped);
            using var paddedTerms = clusterTerms.PadTo(QueryLayout.Clusters);
            SparseAttentionKernels.EnqueueAttention(_library, q, k, v, output, QueryLayout, KeyLayout, _workspace, scale, IntPtr.Zero, paddedTerms);
            return;
        }
        Tensor compensable;
        ClusterCompensationTerms? tailTerms = null;
        if (logits is not null)
        {
            // The light tail joins one term per query cluster (the kernel rewrites the video region every call); the rest stays a key per row.
            _tailCompensable ??= zeros(BlockMask.shape, ScalarType.Bool, _device).DetachFromDisposeScope();
            compensable = _tailCompensable;
            tailTerms = CompensationTailKernel.Enqueue(_library, logits, BlockMask, valueMeans, tailMass, compensable, IntPtr.Zero);
        }
        else
        {
            if (_compensable is null)
            {
                _compensable = zeros(BlockMask.shape, ScalarType.Bool, _device).DetachFromDisposeScope();
                _compensable.narrow(1, 0, QueryClusters).narrow(2, 0, KeyClusters).fill_(true);
            }
            compensable = _compensable;
        }
        using (tailTerms)
        {
            using var centroidKeys = CentroidKeys.Enqueue(_library, keyCentroids, valueMeans, keySizes, BlockMask, compensable, KeyLayout, scale, IntPtr.Zero);
            SparseAttentionKernels.EnqueueAttention(_library, q, k, v, output, QueryLayout, KeyLayout, _workspace, scale, IntPtr.Zero, tailTerms, centroidKeys);
        }
    }

    /// <summary>
    /// The mean values of the key clusters of the current key layout (segment means over v), enqueued
    /// unless the probe of the same call already computed them for this layout and this v (the
    /// compensated attention then consumes them). The layout changes with every key k-means call.
    /// </summary>
    Tensor EnqueueValueMeans(Tensor v)
    {
        _valueMeans ??= zeros([_groups, KeyClusters, _headDim], _dtype, _device).DetachFromDisposeScope();
        using var videoValues = VideoRows(v, KeyLayout, _videoKeyRows, nameof(v));
        var source = (_keyLayoutVersion, DevicePointer.OfRows(videoValues, _dtype, nameof(v), out _).Address);
        if (_valueMeansOf != source)
        {
            KMeansKernels.EnqueueSegmentMeans(_library, videoValues, KeyLayout.Permutation, KeyLayout.Offsets, _valueMeans, IntPtr.Zero);
            _valueMeansOf = source;
        }
        return _valueMeans;
    }

    /// <summary>
    /// Enqueues the routing probe of error-aware routing over the current layouts (probe.cu) and returns
    /// the [G, QC, KC] float64 scores of <see cref="CompensationErrorProbe"/> (a new tensor). The query
    /// and key means are the centroids (the member means after the last k-means iterations), the mean
    /// values the segment means over v, which the compensated attention of the same call reuses.
    /// </summary>
    /// <param name="k">[G, Nk, D].</param>
    /// <param name="v">[G, Nk, D].</param>
    /// <param name="queryCentroids">[G, QC, D] after the last k-means iterations on q.</param>
    /// <param name="keyCentroids">[G, KC, D] after the last k-means iterations on k.</param>
    /// <param name="variant">The probe's walk (null: <see cref="RoutingProbeKernels.DefaultVariant"/>).</param>
    /// <param name="afterStep">Called after each probe kernel and the normalisation (see <see cref="RoutingProbeKernels.Scores"/>), for timing.</param>
    /// <param name="sampledKeysPerCluster">Walk at most this many keys of each key cluster (<see cref="ProbeKeySample"/>); null: every key.</param>
    /// <param name="normalisation">Where the probe's lse_a and o_a come from (see <see cref="RoutingProbeKernels.Enqueue"/>).</param>
    public Tensor EnqueueRoutingProbe(Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, RoutingProbeVariant? variant = null,
        Action<string>? afterStep = null, int? sampledKeysPerCluster = null, ProbeNormalisation normalisation = ProbeNormalisation.Exact)
    {
        RequireCentroids(queryCentroids, QueryClusters, nameof(queryCentroids), 1);
        RequireCentroids(keyCentroids, KeyClusters, nameof(keyCentroids), 1);
        using var scope = NewDisposeScope();
        var valueMeans = EnqueueValueMeans(v);
        using var videoKeys = VideoRows(k, KeyLayout, _videoKeyRows, nameof(k));
        using var videoValues = VideoRows(v, KeyLayout, _videoKeyRows, nameof(v));
        var scores = RoutingProbeKernels.Scores(_library, videoKeys, videoValues, KeyLayout.Permutation, KeyLayout.Offsets, queryCentroids, keyCentroids,
            valueMeans, QueryLayout.Sizes.narrow(1, 0, QueryClusters), KeyLayout.Sizes.narrow(1, 0, KeyClusters), variant, afterStep, sampledKeysPerCluster,
            normalisation);
        return scores.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Enqueues the selection of error-aware routing into the video part of <see cref="BlockMask"/>: the blocks
    /// of <see cref="ErrorAwareSelection.Select"/> for <paramref name="scores"/> [G, QC, KC] float64 (the probe's)
    /// under <paramref name="rule"/>. The plan is not enqueued (<see cref="EnqueuePlan"/>, with the rule's minimum).
    /// </summary>
    public void EnqueueErrorSelection(Tensor scores, ErrorRoutingRule rule, IntPtr stream = default)
    {
        TensorChecks.RequireShape(scores, nameof(scores), _groups, QueryClusters, KeyClusters);
        ErrorAwareSelectionKernel.Enqueue(_library, scores, rule, BlockMask, stream);
    }

    /// <summary>
    /// New tensors with the selection of the last call, which stay valid when the next call overwrites the
    /// pipeline's buffers: the labels of every row and the block mask (the video labels and mask, with the
    /// text blocks appended by <see cref="TextBlocks.Append"/> when the pipeline has text), the floor share
    /// of the last plan's rule, and the per-problem density as float64 [G].
    /// </summary>
    /// <remarks>
    /// Three copies without text (the labels share a buffer, and so do the density and the floor share); the
    /// statistics are the planner's (<see cref="PlanStatistics"/>).
    /// </remarks>
    public (BlockSparsity Sparsity, Tensor Density) CopySelection()
    {
        using var scope = NewDisposeScope();
        var statistics = _statistics.clone();
        var (density, floorShare) = (statistics[0], statistics[1]);
        BlockSparsity sparsity;
        if (Text is { } text)
        {
            using var videoMask = BlockMask.narrow(1, 0, QueryClusters).narrow(2, 0, KeyClusters);
            sparsity = TextBlocks.Append(_queryLabels, _keyLabels, videoMask, QueryClusters, KeyClusters, text) with { FloorShare = floorShare };
        }
        else
        {
            var labels = _labels.clone();
            sparsity = new BlockSparsity(LabelsIn(labels, 0, _groups, _videoQueryRows), LabelsIn(labels, _groups * _videoQueryRows, _groups, _videoKeyRows),
                BlockMask.clone()) { FloorShare = floorShare };
        }
        density.MoveToOuterDisposeScope();
        return (sparsity.MoveToOuterDisposeScope(), density);
    }

    void IFusedSvg2Pipeline.Cluster(Tensor q, Tensor k, Tensor queryStart, Tensor keyStart, Tensor queryCentroids, Tensor keyCentroids, int iterations,
        KMeansPrecision precision) =>
        EnqueueKMeans(q, k, queryCentroids, keyCentroids, iterations, precision: precision, queryStart: queryStart, keyStart: keyStart);

    void IFusedSvg2Pipeline.Select(Tensor queryCentroids, Tensor keyCentroids, SelectionRule rule) => EnqueueSelection(queryCentroids, keyCentroids, rule);

    /// <summary>The probe kernels run on every GPU the pipeline does.</summary>
    public bool EstimatesCompensationError => true;

    Tensor IFusedSvg2Pipeline.EstimateCompensationError(Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, int? sampledKeysPerCluster,
        ProbeNormalisation normalisation) =>
        EnqueueRoutingProbe(k, v, queryCentroids, keyCentroids, sampledKeysPerCluster: sampledKeysPerCluster, normalisation: normalisation);

    void IFusedSvg2Pipeline.SelectByError(Tensor scores, ErrorRoutingRule rule)
    {
        EnqueueErrorSelection(scores, rule);
        EnqueuePlan(rule.MinimumKept(KeyClusters));
    }

    void IFusedSvg2Pipeline.Attend(Tensor q, Tensor k, Tensor v, Tensor output) => EnqueueAttention(q, k, v, output, 1.0 / Math.Sqrt(_headDim));

    string? IFusedSvg2Pipeline.Fp8Unsupported(Fp8AttentionSettings settings) => Fp8AttentionKernels.Unsupported(_library, settings);

    void IFusedSvg2Pipeline.AttendFp8(Tensor q, Tensor k, Tensor v, Tensor output, Fp8AttentionSettings settings) =>
        EnqueueFp8Attention(q, k, v, output, 1.0 / Math.Sqrt(_headDim), settings);

    void IFusedSvg2Pipeline.AttendCompensated(Tensor q, Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, Tensor output, CompensationMode mode,
        double tailMass) =>
        EnqueueCompensatedAttention(q, k, v, queryCentroids, keyCentroids, output, 1.0 / Math.Sqrt(_headDim), mode, tailMass);

    /// <summary>The scratch buffers are sized for this pipeline's cluster counts: centroids of another count must not reach the kernels.</summary>
    void RequireCentroids(Tensor centroids, int clusters, string name, int iterations)
    {
        TensorChecks.Require(centroids, _dtype, name);
        TensorChecks.RequireShape(centroids, name, _groups, clusters, _headDim);
        if (iterations < 1) throw new ArgumentException($"k-means needs at least 1 iteration (got {iterations}).", nameof(iterations));
    }

    /// <summary>Enqueues a whole steady-state call.</summary>
    public void Enqueue(Tensor q, Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, int iterations, SelectionRule rule, IntPtr stream = default)
    {
        EnqueueKMeans(q, k, queryCentroids, keyCentroids, iterations, stream);
        EnqueueSelection(queryCentroids, keyCentroids, rule, stream);
        EnqueueAttention(q, k, v, 1.0 / Math.Sqrt(q.shape[2]), stream);
    }

    /// <summary>
    /// Per-problem density of the last plan, sum_i |Q_i| x selected keys_i / (Nq x Nk), as float64 [G]: a copy of
    /// what the planner wrote (<see cref="PlanStatistics"/>; reading it is a host sync).
    /// </summary>
    public Tensor Density()
    {
        using var density = _statistics[0];
        return density.clone();
    }

    /// <summary>Sum over problems of |Q_i| x selected keys_i: the computed score entries (for effective FLOP/s).</summary>
    public Tensor ComputedEntries() =>
        (QueryLayout.Sizes.to(ScalarType.Float64) * _workspace.SelectedKeys.to(ScalarType.Float64)).sum();

    /// <summary>Device memory of the pipeline's own buffers (output excluded), in bytes.</summary>
    public long BufferBytes => Buffers().Sum(t => t.numel() * t.ElementSize);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in new[] { _queryScratch, _keyScratch, _queryLabels, _keyLabels, _labels, _queryCounts, _keyCounts, BlockMask, _centroidDots, _statistics })
            tensor.Dispose();
        _output?.Dispose();
        _valueMeans?.Dispose();
        _compensable?.Dispose();
        _tailCompensable?.Dispose();
        QueryLayout.Dispose();
        KeyLayout.Dispose();
        _workspace.Dispose();
        _fork.Dispose();
    }
}
