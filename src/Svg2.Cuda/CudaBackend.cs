using Svg2.Configuration;
using TorchSharp;
using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Backends;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using static TorchSharp.torch;

namespace Svg2.Cuda;

/// <summary>
/// SVG2 on NVIDIA GPUs: CUDA C++ kernels compiled at run time with NVRTC for the GPU found, launched
/// through the driver API on the device memory of TorchSharp tensors, on the legacy default stream
/// (so they are ordered with TorchSharp's own work). No stage reads tensor values back to the host.
/// </summary>
/// <remarks>
/// Supports CUDA tensors of bfloat16 or float16 with head dimension 64 or 128, contiguous [G, N, D];
/// anything else is rejected by <see cref="Supports"/> and by a clear <see cref="ArgumentException"/>.
/// <para>
/// Whole calls of <see cref="Svg2Attention"/> run fused (<see cref="IFusedSvg2Backend"/>): the
/// backend keeps one <see cref="CudaSvg2Pipeline"/> per call shape, shared by every layer and
/// operator using this instance (about 225 MiB at Wan 720p; the per-layer state is only the centroid
/// caches in <see cref="Svg2LayerState"/>). The cached pipelines live until
/// <see cref="ReleasePipelines"/> or <see cref="Dispose"/>; use one backend per model, and dispose
/// it when the model is done. The stage methods hold no state.
/// </para>
/// <para>
/// Centroid compensation (<see cref="ICompensatingBackend"/>, the <c>svg2-ear</c> method) runs in the
/// attention kernels: per query cluster merged into each row's softmax at the store (both kernel
/// families), per row as one extra key per skipped cluster (the Hopper kernel; the portable kernels
/// fall back to the reference attention for it). Fused calls take their means from the k-means
/// centroids. The error-aware routing probe runs in its own kernels (probe.cu), staged and fused; the
/// cluster means of staged calls run as portable TorchSharp operations on the device.
/// </para>
/// </remarks>
public sealed class CudaBackend : ICompensatingBackend, IFusedSvg2Backend, IFp8AttentionBackend, IDisposable
{
    readonly Dictionary<FusedShape, CudaSvg2Pipeline> _pipelines = [];
    readonly Lock _gate = new();
    bool _disposed;

    /// <inheritdoc/>
    public string Name => "cuda";

    /// <inheritdoc/>
    public bool CanFuse(Tensor q, Tensor k, Tensor v, TextTokens? text, out string? reason)
    {
        if (!Supports(q, k, v, out reason)) return false;
        if (q.shape[1] != k.shape[1])
            reason = $"the fused pipeline runs self-attention, with as many query as key rows (got {q.shape[1]} and {k.shape[1]}).";
        return reason is null;
    }

    /// <summary>
    /// The cached pipeline for <paramref name="shape"/>, made on first use. Owned by this backend:
    /// callers must not dispose it, and must not interleave calls on it from several threads.
    /// </summary>
    public CudaSvg2Pipeline PipelineFor(FusedShape shape)
    {
        if (shape.DeviceType != DeviceType.CUDA) throw new ArgumentException($"The CUDA pipeline needs a CUDA device; got {shape.Device}.", nameof(shape));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_pipelines.TryGetValue(shape, out var pipeline))
            {
                pipeline = new CudaSvg2Pipeline(shape.Groups, shape.Tokens, shape.Tokens, shape.HeadDim, shape.QueryClusters, shape.KeyClusters,
                    shape.DType, shape.Device, shape.Text);
                _pipelines.Add(shape, pipeline);
            }
            return pipeline;
        }
    }

    IFusedSvg2Pipeline IFusedSvg2Backend.PipelineFor(FusedShape shape) => PipelineFor(shape);

    /// <summary>Pipelines cached now (one per call shape seen).</summary>
    public int CachedPipelines
    {
        get { lock (_gate) return _pipelines.Count; }
    }

    /// <summary>
    /// Frees the cached pipelines (for example between videos of another resolution); later calls
    /// make them again. Work already enqueued on them is ordered before the frees by the stream.
    /// </summary>
    public void ReleasePipelines()
    {
        lock (_gate)
        {
            foreach (var pipeline in _pipelines.Values) pipeline.Dispose();
            _pipelines.Clear();
        }
    }

    /// <summary>Frees the cached pipelines; the backend cannot fuse calls afterwards.</summary>
    public void Dispose()
    {
        lock (_gate) _disposed = true;
        ReleasePipelines();
    }

    /// <inheritdoc/>
    public bool Supports(Tensor q, Tensor k, Tensor v, out string? reason)
    {
        reason = Reject(q, "q") ?? Reject(k, "k") ?? Reject(v, "v");
        if (reason is null && (k.dtype != q.dtype || v.dtype != q.dtype))
            reason = $"q, k and v must share a dtype (got {q.dtype}, {k.dtype}, {v.dtype}).";
        if (reason is null && (k.shape[2] != q.shape[2] || !k.shape.SequenceEqual(v.shape) || k.shape[0] != q.shape[0]))
            reason = $"k and v must be [G, Nk, D] matching q [G, Nq, D] (got q [{string.Join(", ", q.shape)}], k [{string.Join(", ", k.shape)}], v [{string.Join(", ", v.shape)}]).";
        // The toolchain check includes NVRTC: with the driver alone the first kernel compile would throw.
        if (reason is null && !CudaToolchain.IsAvailable(out var missing)) reason = missing;
        return reason is null;
    }

    static string? Reject(Tensor tensor, string name)
    {
        if (tensor.device_type != DeviceType.CUDA) return $"{name} is on {tensor.device}, not a CUDA device.";
        if (tensor.dim() != 3) return $"{name} must be [G, N, D]; got [{string.Join(", ", tensor.shape)}].";
        if (!TensorChecks.IsSupportedElement(tensor.dtype)) return $"{name} is {tensor.dtype}; the CUDA kernels take BFloat16 or Float16.";
        if (!TensorChecks.IsSupportedHeadDim(tensor.shape[2])) return $"{name} has head dimension {tensor.shape[2]}; the CUDA kernels are compiled for 64 and 128.";
        if (!tensor.is_contiguous()) return $"{name} is not contiguous.";
        return null;
    }

    /// <inheritdoc/>
    public KMeansResult KMeans(Tensor points, Tensor initialCentroids, int iterations, KMeansPrecision precision = KMeansPrecision.Input)
    {
        TensorChecks.RequirePoints(points, nameof(points));
        TensorChecks.Require(initialCentroids, points.dtype, nameof(initialCentroids));
        if (initialCentroids.dim() != 3 || initialCentroids.shape[0] != points.shape[0] || initialCentroids.shape[2] != points.shape[2])
            throw new ArgumentException($"initialCentroids must be [G, K, D] matching points [{string.Join(", ", points.shape)}]; got [{string.Join(", ", initialCentroids.shape)}].");
        if (iterations < 1) throw new ArgumentException($"k-means needs at least 1 iteration (got {iterations}).", nameof(iterations));
        var library = LibraryFor(points);
        long groups = points.shape[0], tokens = points.shape[1];
        int clusters = (int)initialCentroids.shape[1];
        using var scope = NewDisposeScope();
        // The first iteration starts from the caller's centroids and writes new ones: no copy of the start.
        var centroids = empty(initialCentroids.shape, initialCentroids.dtype, initialCentroids.device);
        var scratch = KMeansKernels.AllocateCentroidScratch(library, groups, clusters, points.device);
        var labels = empty([groups, tokens], ScalarType.Int64, points.device);
        var counts = CountingSort.AllocateCounts(groups, tokens, clusters, points.device);
        var sizes = empty([groups, clusters], ScalarType.Int64, points.device);
        var offsets = empty([groups, clusters + 1], ScalarType.Int64, points.device);
        var permutation = empty([groups, tokens], ScalarType.Int64, points.device);
        var centre = KMeansKernels.CentreFor(precision, initialCentroids);
        for (int iteration = 0; iteration < iterations; iteration++)
            KMeansKernels.EnqueueIteration(library, points, iteration == 0 ? initialCentroids : centroids, centroids, scratch, labels, counts, sizes, offsets,
                permutation, IntPtr.Zero, fp8Centre: centre);
        return new KMeansResult(labels, centroids, sizes).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public ClusterLayout Layout(Tensor labels, int clusters)
    {
        TensorChecks.Require(labels, ScalarType.Int64, nameof(labels));
        if (labels.dim() != 2) throw new ArgumentException($"labels must be [G, N]; got [{string.Join(", ", labels.shape)}].", nameof(labels));
        var library = KernelLibrary.For(CudaDevice.Get(labels.device_index), ScalarType.BFloat16, 128);
        long groups = labels.shape[0], tokens = labels.shape[1];
        using var scope = NewDisposeScope();
        var counts = CountingSort.AllocateCounts(groups, tokens, clusters, labels.device);
        var layout = new ClusterLayout(
            empty([groups, tokens], ScalarType.Int64, labels.device),
            empty([groups, clusters], ScalarType.Int64, labels.device),
            empty([groups, clusters + 1], ScalarType.Int64, labels.device));
        CountingSort.Enqueue(library, labels, clusters, counts, layout.Sizes, layout.Offsets, layout.Permutation, IntPtr.Zero);
        return layout.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public Tensor SelectKeyClusters(Tensor queryCentroids, Tensor keyCentroids, Tensor keySizes, SelectionRule rule)
    {
        TensorChecks.RequirePoints(queryCentroids, nameof(queryCentroids));
        TensorChecks.Require(keyCentroids, queryCentroids.dtype, nameof(keyCentroids));
        TensorChecks.Require(keySizes, ScalarType.Int64, nameof(keySizes));
        long groups = queryCentroids.shape[0], keyClusters = keyCentroids.shape[1];
        TensorChecks.RequireShape(keyCentroids, nameof(keyCentroids), groups, keyClusters, queryCentroids.shape[2]);
        TensorChecks.RequireShape(keySizes, nameof(keySizes), groups, keyClusters);
        var mask = empty([groups, queryCentroids.shape[1], keyClusters], ScalarType.Bool, queryCentroids.device);
        using var dots = SelectionKernel.AllocateDots(groups, (int)queryCentroids.shape[1], (int)keyClusters, queryCentroids.device);
        SelectionKernel.Enqueue(LibraryFor(queryCentroids), queryCentroids, keyCentroids, keySizes, rule, mask, dots, IntPtr.Zero);
        return mask;
    }

    /// <inheritdoc/>
    public Tensor BlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale) =>
        SparseAttention(q, k, v, queryLayout, keyLayout, blockMask, scale, null, null);

    /// <inheritdoc/>
    public ClusterMeans Means(Tensor q, Tensor k, Tensor v, Tensor queryLabels, Tensor keyLabels, int queryClusters, int keyClusters) =>
        ClusterMeans.Of(q, k, v, queryLabels, keyLabels, queryClusters, keyClusters);

    /// <inheritdoc/>
    /// <remarks>
    /// In the probe kernels (probe.cu) for k and v the kernels take (CUDA, bf16/fp16, head dimension 64 or
    /// 128, values as wide as keys), sampled or not, with either normaliser; anything else runs the reference
    /// (<see cref="CompensationErrorProbe.Estimate"/>).
    /// The kernels round the query and key means to the element type of k (their MMA operands).
    /// </remarks>
    public Tensor EstimateCompensationError(Tensor k, Tensor v, ClusterLayout keyLayout, ClusterMeans means, int? sampledKeysPerCluster = null,
        ProbeNormalisation normalisation = ProbeNormalisation.Exact)
    {
        if (!ProbeKernelsTake(k, v)) return CompensationErrorProbe.Estimate(k, v, keyLayout, means, sampledKeysPerCluster, normalisation);
        if (keyLayout.Tokens != k.shape[1] || means.KeyClusters != keyLayout.Clusters || means.QueryMeans.shape[0] != k.shape[0]
            || means.QueryMeans.shape[2] != k.shape[2] || means.ValueMeans.shape[2] != v.shape[2])
            throw new ArgumentException($"The probe's inputs disagree: k [{string.Join(", ", k.shape)}], v [{string.Join(", ", v.shape)}], " +
                $"a key layout of {keyLayout.Tokens} rows in {keyLayout.Clusters} clusters, means [{string.Join(", ", means.QueryMeans.shape)}] and [{string.Join(", ", means.KeyMeans.shape)}].");
        return RoutingProbeKernels.Scores(LibraryFor(k), k, v, keyLayout.Permutation, keyLayout.Offsets, means.QueryMeans, means.KeyMeans,
            means.ValueMeans, means.QuerySizes, means.KeySizes, sampledKeysPerCluster: sampledKeysPerCluster, normalisation: normalisation);
    }

    /// <summary>Whether the probe kernels take these keys and values (they may be the leading rows of longer tensors).</summary>
    static bool ProbeKernelsTake(Tensor k, Tensor v) =>
        k.device_type == DeviceType.CUDA && v.device_type == DeviceType.CUDA && k.dim() == 3 && v.dim() == 3 && k.dtype == v.dtype
        && TensorChecks.IsSupportedElement(k.dtype) && TensorChecks.IsSupportedHeadDim(k.shape[2]) && v.shape.SequenceEqual(k.shape)
        && CudaToolchain.IsAvailable(out _);

    /// <inheritdoc/>
    /// <remarks>
    /// In the attention kernel; per row on the portable kernels (GPUs before Hopper) through the
    /// reference attention (<see cref="VariableBlockAttention"/>).
    /// </remarks>
    public Tensor CompensatedBlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask,
        double scale, CentroidCompensation compensation)
    {
        compensation.Validate(blockMask, v.shape[2]);
        if (!Supports(q, k, v, out var reason)) throw new ArgumentException($"The CUDA backend cannot run this attention: {reason}");
        var library = LibraryFor(q);
        if (compensation.Mode == CompensationMode.PerRow && library.Family != KernelFamily.Hopper)
            return VariableBlockAttention.Forward(q, k, v, queryLayout, keyLayout, blockMask, scale, compensation);
        // Per query cluster, and per row's light tail: one term per query cluster, merged at the kernel's store.
        using var terms = compensation.ClusterTerms(blockMask, scale);
        using var rowBlocks = compensation.RowBlocks(blockMask);
        if (rowBlocks is null) return SparseAttention(q, k, v, queryLayout, keyLayout, blockMask, scale, terms, null);
        var means = compensation.Means;
        using var centroidKeys = CentroidKeys.Enqueue(library, means.KeyMeans, means.ValueMeans, means.KeySizes, blockMask.contiguous(),
            rowBlocks.contiguous(), keyLayout, scale, IntPtr.Zero);
        return SparseAttention(q, k, v, queryLayout, keyLayout, blockMask, scale, terms, centroidKeys);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// In the Hopper FP8 kernels (attention_hopper_fp8.cu) with per-token scales, K smoothed or not; other scale
    /// granularities and GPUs before Hopper are refused with <see cref="NotSupportedException"/>.
    /// </remarks>
    public Tensor Fp8BlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask,
        double scale, Fp8AttentionSettings settings)
    {
        RequireAttentionInputs(q, k, v, queryLayout, keyLayout, blockMask);
        Fp8Tiles.RequireHeadDim(q.shape[2]);
        var library = LibraryFor(q);
        if (Fp8AttentionKernels.Unsupported(library, settings) is { } reason) throw new NotSupportedException(reason);
        using var workspace = new AttentionWorkspace(q.shape[0], queryLayout.Clusters, keyLayout.Clusters, q.device, TailPairSetting.Enabled);
        var output = empty_like(q);
        SparseAttentionKernels.EnqueuePlan(library, queryLayout, keyLayout, blockMask, workspace, IntPtr.Zero);
        using var operands = Fp8AttentionKernels.Quantize(library, q, k, v, settings, IntPtr.Zero);
        Fp8AttentionKernels.EnqueueAttention(library, operands, output, queryLayout, keyLayout, workspace, scale, IntPtr.Zero);
        return output;
    }

    Tensor SparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale,
        ClusterCompensationTerms? compensation, CentroidKeys? centroidKeys)
    {
        RequireAttentionInputs(q, k, v, queryLayout, keyLayout, blockMask);
        var library = LibraryFor(q);
        using var workspace = new AttentionWorkspace(q.shape[0], queryLayout.Clusters, keyLayout.Clusters, q.device, centroidKeys is null && TailPairSetting.Enabled);
        var output = empty_like(q);
        SparseAttentionKernels.EnqueuePlan(library, queryLayout, keyLayout, blockMask, workspace, IntPtr.Zero);
        SparseAttentionKernels.EnqueueAttention(library, q, k, v, output, queryLayout, keyLayout, workspace, scale, IntPtr.Zero, compensation, centroidKeys);
        return output;
    }

    void RequireAttentionInputs(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask)
    {
        if (!Supports(q, k, v, out var reason)) throw new ArgumentException($"The CUDA backend cannot run this attention: {reason}");
        long groups = q.shape[0];
        TensorChecks.RequireShape(queryLayout.Permutation, "queryLayout.Permutation", groups, q.shape[1]);
        TensorChecks.RequireShape(keyLayout.Permutation, "keyLayout.Permutation", groups, k.shape[1]);
        TensorChecks.RequireShape(queryLayout.Offsets, "queryLayout.Offsets", groups, queryLayout.Clusters + 1);
        TensorChecks.RequireShape(keyLayout.Offsets, "keyLayout.Offsets", groups, keyLayout.Clusters + 1);
        TensorChecks.RequireShape(blockMask, nameof(blockMask), groups, queryLayout.Clusters, keyLayout.Clusters);
    }

    static KernelLibrary LibraryFor(Tensor points) =>
        KernelLibrary.For(CudaDevice.Get(points.device_index), points.dtype, (int)points.shape[2]);
}
