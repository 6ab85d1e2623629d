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
        bool headKeys = settings.Scales == Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys;
        var keyStatistics = settings.SmoothKeys || headKeys ? ChannelStatistics(library, k, stream) : null;
        var keyMean = settings.SmoothKeys ? keyStatistics!.Mean : null;
        var queryMean = settings.SmoothQueries ? ChannelStatistics(library, q, stream).Mean : null;
        var (valueInverse, valueScales) = Fp8Quantizer.Scales(ChannelStatistics(library, v, stream).Magnitudes(null));
        var (queries, queryScales, _) = QuantizeRows(library, q, queryMean, null, null, stream);
        var (values, _, _) = QuantizeRows(library, v, null, valueInverse.contiguous(), null, stream);
        Tensor? headKeyScales = null, headKeyInverse = null;
        if (headKeys) (headKeyInverse, headKeyScales) = Fp8Quantizer.Scales(keyStatistics!.Magnitudes(keyMean).amax([1], keepdim: true));
        var (keys, tokenKeyScales, keyBias) = QuantizeRows(library, k, keyMean, headKeyInverse?.expand(-1, k.shape[2]).contiguous(), queryMean, stream);
        return new Fp8AttentionOperands(queries, queryScales!, keys, headKeys ? headKeyScales!.squeeze(1).contiguous() : tokenKeyScales!, values,
            valueScales.contiguous(), keyBias).MoveToOuterDisposeScope();
    }

    /// <summary>[G, D] float32 statistics of each channel over the rows of a [G, N, D] tensor.</summary>
    /// <param name="Mean">The mean: the kernel's fixed-order float32 sum over N, which may differ from TorchSharp's mean in the last bits.</param>
    /// <param name="Smallest">The smallest value (NaN where the channel holds one).</param>
    /// <param name="Largest">The largest value (NaN where the channel holds one).</param>
    sealed record ChannelStatisticsResult(Tensor Mean, Tensor Smallest, Tensor Largest)
    {
        /// <summary>
        /// Each channel's largest |x - mean| (|x| without a mean) from its extremes: float32 subtraction is monotonic, so
        /// the extreme element's difference is the largest, as the reference's elementwise one.
        /// </summary>
        public Tensor Magnitudes(Tensor? mean) => mean is null ? maximum(Largest, Smallest.neg()) : maximum(Largest - mean, mean - Smallest);
    }

    /// <summary>
    /// One pass of svg2_fp8_channel_statistics over [G, N, D] <paramref name="x"/> (partial sums, minima and maxima per
    /// slice of rows), combined over the slices.
    /// </summary>
    static ChannelStatisticsResult ChannelStatistics(KernelLibrary library, Tensor x, IntPtr stream)
    {
        long groups = x.shape[0], rows = x.shape[1];
        int slices = (int)Math.Max(1, (rows + Fp8AttentionTraits.StatisticsSliceRows - 1) / Fp8AttentionTraits.StatisticsSliceRows);
        var partials = empty([groups, slices, Fp8AttentionTraits.ChannelStatistics, x.shape[2]], ScalarType.Float32, x.device);
        library.Launch("svg2_fp8_channel_statistics", (slices, (int)groups), Fp8AttentionTraits.StatisticsThreads, 0, stream,
            DevicePointer.Of(x, library.Element, "x"), DevicePointer.Of(partials, ScalarType.Float32, "channel statistics"), (int)rows);
        return new ChannelStatisticsResult((partials.select(2, 0).sum(1) / rows).contiguous(), partials.select(2, 1).amin(1), partials.select(2, 2).amax(1));
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
        long rowsPerBlock = Fp8AttentionTraits.QuantizeRowsPerBlock((int)x.shape[2]);
        if (groups * rows > int.MaxValue - rowsPerBlock)
            throw new ArgumentException($"FP8 quantisation indexes rows in 32 bits; [{string.Join(", ", x.shape)}] has {groups * rows} rows, more than {int.MaxValue - rowsPerBlock}.");
        var bytes = empty(x.shape, ScalarType.Byte, x.device);
        var rowScales = channelInverse is null ? empty([groups, rows], ScalarType.Float32, x.device) : null;
        var rowBias = biasVector is null ? null : empty([groups, rows], ScalarType.Float32, x.device);
        var none = new DevicePointer(0);
        library.Launch("svg2_fp8_quantize_rows", ((int)((groups * rows + rowsPerBlock - 1) / rowsPerBlock), 1),
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
