using Svg2.Algorithm;
using Svg2.Attention.Fp8;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// FP8 (e4m3) sparse attention on Hopper (attention_hopper_fp8.cu): the quantisation of q, k and v and the
/// attention over the same tile plan as the bf16 kernel (<see cref="SparseAttentionKernels.EnqueuePlan"/>).
/// It reproduces <see cref="Fp8BlockSparseAttention"/> with per-token Q scales and per-token or per-head K scales.
/// </summary>
internal static class Fp8AttentionKernels
{
    /// <summary>
    /// Why <paramref name="library"/> cannot run FP8 attention under <paramref name="settings"/>, or null: the kernels
    /// use Hopper's e4m3 wgmma and take per-token Q scales with per-token or per-head K scales, which need no pass in
    /// the permuted order.
    /// </summary>
    public static string? Unsupported(KernelLibrary library, Fp8AttentionSettings settings)
    {
        if (library.Family != KernelFamily.Hopper)
            return $"The FP8 attention kernels use Hopper's e4m3 warpgroup products (sm_90a); {library.Device.Name} ({library.Device.Architecture}) " +
                   $"runs the {library.Family.ToString().ToLowerInvariant()} family. Use bf16 precision on this GPU, or the reference backend's exact FP8 emulation.";
        if (settings.Scales is not (Fp8ScaleGranularity.PerToken or Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys))
            return $"The FP8 attention kernels take per-token Q scales with per-token or per-head K scales; {settings.Scales} scales run only in the " +
                   "reference backend's FP8 emulation (--device cpu).";
        return null;
    }

    /// <summary>
    /// Quantises [G, N, D] q, k and v (contiguous, the library's element type) as the reference does under
    /// <paramref name="settings"/>: Q with one scale per token, first smoothed by its head's mean when asked (the keys'
    /// bias q̄ · k then comes from the same pass over K), K first smoothed by its head's mean when asked, with one
    /// scale per token or per head, V with one scale per head and channel. Rows stay in original token order (none of
    /// these scales depends on it).
    /// </summary>
    public static Fp8AttentionOperands Quantize(KernelLibrary library, Tensor q, Tensor k, Tensor v, Fp8AttentionSettings settings, IntPtr stream)
    {
        using var scope = NewDisposeScope();
        var keyMean = settings.SmoothKeys ? k.mean([1], type: ScalarType.Float32).contiguous() : null;
        var queryMean = settings.SmoothQueries ? q.mean([1], type: ScalarType.Float32).contiguous() : null;
        var (valueInverse, valueScales) = Fp8Quantizer.Scales(ChannelMagnitudes(v, null));
        var (queries, queryScales, _) = QuantizeRows(library, q, queryMean, null, null, stream);
        var (values, _, _) = QuantizeRows(library, v, null, valueInverse.contiguous(), null, stream);
        bool headKeys = settings.Scales == Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys;
        Tensor? headKeyScales = null, headKeyInverse = null;
        if (headKeys) (headKeyInverse, headKeyScales) = Fp8Quantizer.Scales(ChannelMagnitudes(k, keyMean).amax([1], keepdim: true));
        var (keys, tokenKeyScales, keyBias) = QuantizeRows(library, k, keyMean, headKeyInverse?.expand(-1, k.shape[2]).contiguous(), queryMean, stream);
        return new Fp8AttentionOperands(queries, queryScales!, keys, headKeys ? headKeyScales!.squeeze(1).contiguous() : tokenKeyScales!, values,
            valueScales.contiguous(), keyBias).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// [G, D] float32: each channel's largest |x - mean| over the rows, from its largest and smallest values (one
    /// reduction pass for both, no temporary as large as x; the extreme element's float32 subtraction is the reference's).
    /// </summary>
    static Tensor ChannelMagnitudes(Tensor x, Tensor? mean)
    {
        var (smallestInput, largestInput) = x.aminmax(1);
        var largest = largestInput.to(ScalarType.Float32);
        var smallest = smallestInput.to(ScalarType.Float32);
        return mean is null ? maximum(largest, smallest.neg()) : maximum(largest - mean, mean - smallest);
    }

    /// <summary>
    /// One launch of svg2_fp8_quantize_rows: e4m3 bytes of x - <paramref name="mean"/>, per-row scales unless
    /// <paramref name="channelInverse"/> scales the channels, and each row's float32 dot product with
    /// <paramref name="biasVector"/> ([G, D]) when one is given.
    /// </summary>
    static (Tensor Bytes, Tensor? RowScales, Tensor? RowBias) QuantizeRows(KernelLibrary library, Tensor x, Tensor? mean, Tensor? channelInverse,
        Tensor? biasVector, IntPtr stream)
    {
        long groups = x.shape[0], rows = x.shape[1];
        if ((ulong)(groups * rows) > int.MaxValue * (ulong)Fp8AttentionTraits.QuantizeWarps)
            throw new ArgumentException($"FP8 quantisation launches one warp per row; [{string.Join(", ", x.shape)}] has too many rows.");
        var bytes = empty(x.shape, ScalarType.Byte, x.device);
        var rowScales = channelInverse is null ? empty([groups, rows], ScalarType.Float32, x.device) : null;
        var rowBias = biasVector is null ? null : empty([groups, rows], ScalarType.Float32, x.device);
        var none = new DevicePointer(0);
        library.Launch("svg2_fp8_quantize_rows", ((int)((groups * rows + Fp8AttentionTraits.QuantizeWarps - 1) / Fp8AttentionTraits.QuantizeWarps), 1),
            Fp8AttentionTraits.QuantizeThreads, 0, stream, DevicePointer.Of(x, library.Element, "x"),
            mean is null ? none : DevicePointer.Of(mean, ScalarType.Float32, "smoothing mean"),
            channelInverse is null ? none : DevicePointer.Of(channelInverse, ScalarType.Float32, "channel scales"),
            biasVector is null ? none : DevicePointer.Of(biasVector, ScalarType.Float32, "query mean"),
            DevicePointer.Of(bytes, ScalarType.Byte, "e4m3 rows"), rowScales is null ? none : DevicePointer.Of(rowScales, ScalarType.Float32, "row scales"),
            rowBias is null ? none : DevicePointer.Of(rowBias, ScalarType.Float32, "key bias"), (int)groups, (int)rows);
        return (bytes, rowScales, rowBias);
    }

    /// <summary>
    /// Enqueues the attention over the plan in <paramref name="workspace"/>; every row of <paramref name="output"/>
    /// ([G, Nq, D], the library's element type, original token order) is written.
    /// </summary>
    public static void EnqueueAttention(KernelLibrary library, Fp8AttentionOperands operands, Tensor output, ClusterLayout queryLayout,
        ClusterLayout keyLayout, AttentionWorkspace workspace, double scale, IntPtr stream)
    {
        if (library.Family != KernelFamily.Hopper) throw new NotSupportedException(Unsupported(library, Fp8AttentionSettings.Default));
        int groups = (int)operands.Queries.shape[0], queryTokens = (int)operands.Queries.shape[1], keyTokens = (int)operands.Keys.shape[1];
        int queryClusters = (int)queryLayout.Clusters, keyClusters = (int)keyLayout.Clusters;
        int shared = Fp8AttentionTraits.SharedBytes(library.HeadDim, keyClusters);
        if (shared > library.Device.MaxSharedBytesPerBlock)
            throw new ArgumentException($"The FP8 attention keeps each query cluster's key-range list in shared memory; {keyClusters} key clusters need {shared} B, more than the {library.Device.MaxSharedBytesPerBlock} B this GPU allows per block. Use fewer key clusters.");
        // Per-head key scales ([G]) join each row's factor; per-token ones ([G, Nk]) multiply every logit; Q smoothing's
        // key bias is added to every logit.
        string kernel = (operands.KeyScales.dim() == 1 ? "svg2_sparse_attention_hopper_fp8_head_keys" : "svg2_sparse_attention_hopper_fp8")
                        + (operands.KeyBias is null ? "" : "_smooth_queries");
        var none = new DevicePointer(0);
        var pairs = SparseAttentionKernels.PairsOf(library, workspace);
        library.Launch(kernel, (SparseAttentionKernels.MaxTiles(queryTokens, queryClusters, SparseAttentionTraits.HopperTileRows), groups),
            SparseAttentionTraits.HopperThreads, shared, stream,
            [DevicePointer.Of(operands.Queries, ScalarType.Byte, "e4m3 q"), DevicePointer.Of(operands.Keys, ScalarType.Byte, "e4m3 k"),
            DevicePointer.Of(operands.Values, ScalarType.Byte, "e4m3 v"), DevicePointer.Of(operands.QueryScales, ScalarType.Float32, "q scales"),
            DevicePointer.Of(operands.KeyScales, ScalarType.Float32, "k scales"),
            operands.KeyBias is null ? none : DevicePointer.Of(operands.KeyBias, ScalarType.Float32, "k bias"),
            DevicePointer.Of(operands.ValueScales, ScalarType.Float32, "v scales"),
            DevicePointer.Of(output, library.Element, nameof(output)), .. SparseAttentionKernels.PlanArguments(queryLayout, keyLayout, workspace, pairs?.TileStart),
            queryTokens, keyTokens, queryClusters, keyClusters, (float)(scale * SparseAttentionKernels.Log2E), .. SparseAttentionKernels.PairArguments(pairs)]);
    }
}
