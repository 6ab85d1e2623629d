using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Configuration;
using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using Svg2.Evaluation.Workloads;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// Checks of the Hopper FP8 attention (attention_hopper_fp8.cu) against the reference FP8 emulation
/// (<see cref="Fp8BlockSparseAttention"/>, <see cref="Fp8DenseAttention"/>) run on the same GPU tensors, and against
/// float32 attention over the same blocks.
/// </summary>
/// <remarks>
/// The kernel rounds Q, K and V exactly as the reference does; its logits come from FP8 tensor-core sums, whose
/// accumulator is narrower than float32, so a P element near an e4m3 rounding boundary (12.5% apart) can round the
/// other way. Two bounds follow: the kernel stays within <see cref="ReferenceTolerance"/> of the reference (an error
/// of layout or scale is of order 1), and its error against float32 is at most <see cref="ErrorGrowth"/> times the
/// reference's (it is no less accurate than the scheme it implements).
/// </remarks>
public static class Fp8AttentionConformance
{
    /// <summary>Largest relative difference between kernel and reference outputs.</summary>
    public const double ReferenceTolerance = 2e-2;

    /// <summary>Largest ratio of the kernel's error against float32 to the reference's.</summary>
    public const double ErrorGrowth = 1.25;

    /// <summary>Query clusters over 1500 tokens: many (clusters shorter than a tile, split tiles) or few (several tiles and a partial one).</summary>
    static readonly int[] QueryClusterCounts = [120, 6];

    /// <summary>Runs every check on <paramref name="device"/>; a failed check never stops the others.</summary>
    public static IReadOnlyList<ConformanceResult> RunAll(Device device, int seed)
    {
        var results = new List<ConformanceResult>();
        foreach (var dim in new[] { 64, 128 })
            results.Add(CudaConformance.Run($"FP8 quantisation kernel = reference quantiser, bytes and scales (bf16 D{dim})",
                () => QuantizationMatchesReference(device, dim, seed + dim, Fp8ScaleGranularity.PerToken)));
        results.Add(CudaConformance.Run("FP8 quantisation kernel = reference quantiser with per-head K scales, bytes and scales (bf16 D128)",
            () => QuantizationMatchesReference(device, 128, seed + 6, Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys)));
        foreach (var dim in new[] { 64, 128 })
            results.Add(CudaConformance.Run($"FP8 quantisation kernel = reference quantiser with Q smoothing, bytes, scales and key bias (bf16 D{dim})",
                () => QuantizationMatchesReference(device, dim, seed + 8 + dim, Fp8ScaleGranularity.PerToken, smoothQueries: true)));
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
            foreach (var dim in new[] { 64, 128 })
                foreach (var clusters in QueryClusterCounts)
                    results.Add(CudaConformance.Run($"FP8 sparse attention kernel vs FP8 reference, {clusters} query clusters ({(dtype == ScalarType.BFloat16 ? "bf16" : "fp16")} D{dim})",
                        () => SparseMatchesReference(device, dtype, dim, seed + dim + clusters, clusters, new Fp8AttentionSettings(Fp8ScaleGranularity.PerToken))));
        foreach (var dim in new[] { 64, 128 })
            foreach (var clusters in QueryClusterCounts)
                results.Add(CudaConformance.Run($"FP8 sparse attention kernel with per-head K scales vs FP8 reference, {clusters} query clusters (bf16 D{dim})",
                    () => SparseMatchesReference(device, ScalarType.BFloat16, dim, seed + 7 + dim + clusters, clusters,
                        new Fp8AttentionSettings(Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys))));
        foreach (var granularity in new[] { Fp8ScaleGranularity.PerToken, Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys })
            results.Add(CudaConformance.Run($"FP8 sparse attention kernel vs FP8 reference without K smoothing, {granularity} scales (bf16 D128)",
                () => SparseMatchesReference(device, ScalarType.BFloat16, 128, seed + 1, QueryClusterCounts[0], new Fp8AttentionSettings(granularity, SmoothKeys: false))));
        foreach (var granularity in new[] { Fp8ScaleGranularity.PerToken, Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys })
            foreach (var dim in new[] { 64, 128 })
                foreach (var clusters in QueryClusterCounts)
                    results.Add(CudaConformance.Run($"FP8 sparse attention kernel with Q smoothing vs FP8 reference, {granularity} scales, {clusters} query clusters (bf16 D{dim})",
                        () => SparseMatchesReference(device, ScalarType.BFloat16, dim, seed + 9 + dim + clusters, clusters,
                            new Fp8AttentionSettings(granularity, SmoothQueries: true))));
        results.Add(CudaConformance.Run("FP8 dense attention through the kernel (one cluster each) vs FP8 dense reference (bf16 D128)",
            () => DenseMatchesReference(device, seed + 2, groups: 3, queryTokens: 3000, keyTokens: 3000)));
        results.Add(CudaConformance.Run($"FP8 dense attention through the kernel over {LongKeyTokens} keys (P V summed on the tensor cores across 256 tiles) vs FP8 dense reference (bf16 D128)",
            () => DenseMatchesReference(device, seed + 5, groups: 2, queryTokens: 1024, keyTokens: LongKeyTokens)));
        results.Add(CudaConformance.Run("fused FP8 operator vs FP8 reference over its own blocks (bf16 D128)", () => FusedMatchesReference(device, seed + 3, null)));
        results.Add(CudaConformance.Run("fused FP8 operator with text rows vs FP8 reference over its own blocks (bf16 D128)",
            () => FusedMatchesReference(device, seed + 5, new TextTokens(128, 48))));
        foreach (var smoothQueries in new[] { false, true })
            results.Add(CudaConformance.Run($"fused FP8 operator{(smoothQueries ? " with Q smoothing" : "")} on {VideoLikeHeads} heads of the Wan 480p-like workload " +
                                            $"(32,760 tokens, default clusters) vs FP8 reference over its own blocks",
                () => VideoLikeMatchesReference(device, seed + 10, new Fp8AttentionSettings(SmoothQueries: smoothQueries))));
        results.Add(CudaConformance.Run("FP8 scale granularities the kernels do not take are refused", () => OtherGranularitiesRefused(device, seed + 4)));
        return results;
    }

    /// <summary>
    /// Random partitions with empty clusters and a random mask (one query cluster selecting nothing), keys with a
    /// common offset per head (what K smoothing removes), and under Q smoothing queries with one too; the output is NaN
    /// before the launch and must be complete.
    /// </summary>
    public static (bool Passed, string Detail) SparseMatchesReference(Device device, ScalarType dtype, int dim, int seed, int queryClusters, Fp8AttentionSettings settings)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 2, QueryTokens = 1500, KeyTokens = 1700, KeyClusters = 90;
        var queryOffset = settings.SmoothQueries ? randn([Groups, 1, dim], generator: generator) : zeros([Groups, 1, dim]);
        var q = (randn([Groups, QueryTokens, dim], generator: generator) + queryOffset).to(dtype).to(device);
        var offset = randn([Groups, 1, dim], generator: generator) * 2;
        var k = (randn([Groups, KeyTokens, dim], generator: generator) + offset).to(dtype).to(device);
        var v = randn([Groups, KeyTokens, dim], generator: generator).to(dtype).to(device);
        var queryLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, QueryTokens, queryClusters, 0.8, generator).to(device);
        var keyLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, KeyTokens, KeyClusters, 0.8, generator).to(device);
        var mask = (rand([Groups, queryClusters, KeyClusters], generator: generator) < 0.3).to(device);
        mask.select(1, 0).zero_();
        using var backend = new CudaBackend();
        using var queryLayout = backend.Layout(queryLabels, queryClusters);
        using var keyLayout = backend.Layout(keyLabels, KeyClusters);
        double scale = 1.0 / Math.Sqrt(dim);
        var output = KernelOutput(q, k, v, queryLayout, keyLayout, mask, scale, settings);
        var reference = Fp8BlockSparseAttention.Forward(q, k, v, queryLayout, keyLayout, mask, scale, settings);
        var exact = ReferenceComputations.MaskedAttention(q, k, v, queryLabels, keyLabels, mask, scale);
        var emptyRows = (queryLabels == 0).unsqueeze(-1).expand_as(output);
        long nonZeroEmpty = (output.masked_select(emptyRows) != 0).sum().item<long>();
        return Judge(output, reference, exact, $"; {nonZeroEmpty} non-zero elements in rows without keys", nonZeroEmpty == 0);
    }

    /// <summary>Keys of the long dense check: 256 key tiles, more than a Wan 720p row selects at 30% density (about 22,700).</summary>
    const int LongKeyTokens = 32768;

    /// <summary>
    /// Dense FP8 attention as the kernel runs it (one query and one key cluster, the block selected) against
    /// <see cref="Fp8DenseAttention"/>: the kernel sums P V on the tensor cores across all of a row's key tiles, so long
    /// key sequences are where their narrower accumulation would show.
    /// </summary>
    public static (bool Passed, string Detail) DenseMatchesReference(Device device, int seed, int groups, int queryTokens, int keyTokens)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Dim = 128;
        var (allQueries, k, v) = ReferenceComputations.RandomQkv(groups, keyTokens, Dim, generator, device);
        var q = allQueries.narrow(1, 0, queryTokens).contiguous();
        using var backend = new CudaBackend();
        using var queryLayout = backend.Layout(zeros([groups, queryTokens], ScalarType.Int64, device), 1);
        using var keyLayout = backend.Layout(zeros([groups, keyTokens], ScalarType.Int64, device), 1);
        var mask = ones([groups, 1, 1], ScalarType.Bool, device);
        var settings = Fp8AttentionSettings.Default;
        var output = KernelOutput(q, k, v, queryLayout, keyLayout, mask, 1.0 / Math.Sqrt(Dim), settings);
        var reference = Fp8DenseAttention.Forward(q, k, v, settings);
        var exact = nn.functional.scaled_dot_product_attention(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32));
        return Judge(output, reference, exact, "", true);
    }

    /// <summary>
    /// <see cref="Svg2Attention"/> with FP8 precision through the fused pipeline (with <paramref name="text"/> rows, as
    /// two extra blocks outside the clustering) against the FP8 reference over the blocks the call reports, and against the bf16 operator from an equal fresh state (the same clustering and blocks).
    /// The gap to bf16 is reported, not bounded: on these random inputs it is FP8's own error (the accuracy target
    /// applies to the video-like workload and the MiniLM data, docs/quality.md).
    /// </summary>
    public static (bool Passed, string Detail) FusedMatchesReference(Device device, int seed, TextTokens? text)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var (q, k, v) = FusedOperatorConformance.ClusteredQkv(3000 + (text?.Count ?? 0), generator, device);
        return FusedAgainstReference(q, k, v, FusedOperatorConformance.Options, Fp8AttentionSettings.Default, text);
    }

    /// <summary>Heads of the Wan 480p-like workload in <see cref="VideoLikeMatchesReference"/>.</summary>
    const int VideoLikeHeads = 2;

    /// <summary>
    /// <see cref="FusedMatchesReference"/> on the video-like workload at Wan 1.3B 480p's sequence length (its first
    /// <see cref="VideoLikeHeads"/> heads) with the default cluster counts, under <paramref name="settings"/>: the kernel
    /// against the emulation at full length, where the bench measures FP8's error against bf16.
    /// </summary>
    public static (bool Passed, string Detail) VideoLikeMatchesReference(Device device, int seed, Fp8AttentionSettings settings)
    {
        using var scope = NewDisposeScope();
        using var sample = VideoLikeWorkload.Generate(VideoShape.FromName("wan-1.3b-480p"), seed, ScalarType.BFloat16, device);
        Tensor Heads(Tensor x) => x.narrow(1, 0, VideoLikeHeads).contiguous();
        return FusedAgainstReference(Heads(sample.Query), Heads(sample.Key), Heads(sample.Value), new Svg2Options(), settings, null);
    }

    /// <summary>
    /// The fused FP8 operator under <paramref name="settings"/> against the FP8 reference over the blocks the call
    /// reports, and against the bf16 operator from an equal fresh state; q, k, v are [1, G, N, D].
    /// </summary>
    static (bool Passed, string Detail) FusedAgainstReference(Tensor q, Tensor k, Tensor v, Svg2Options options, Fp8AttentionSettings settings, TextTokens? text)
    {
        using var scope = NewDisposeScope();
        using var backend = new CudaBackend();
        using var fp8State = new Svg2LayerState();
        using var bf16State = new Svg2LayerState();
        using var fp8 = new Svg2Attention(options with { Precision = AttentionPrecision.Fp8, Fp8 = settings }, backend).Forward(q, k, v, fp8State, text);
        using var bf16 = new Svg2Attention(options, backend).Forward(q, k, v, bf16State, text);
        var sparsity = fp8.Sparsity;
        using var queryLayout = backend.Layout(sparsity.QueryLabels, (int)sparsity.BlockMask.shape[1]);
        using var keyLayout = backend.Layout(sparsity.KeyLabels, (int)sparsity.BlockMask.shape[2]);
        var (q3, k3, v3) = (q.squeeze(0), k.squeeze(0), v.squeeze(0));
        double scale = 1.0 / Math.Sqrt(q.shape[^1]);
        var reference = Fp8BlockSparseAttention.Forward(q3, k3, v3, queryLayout, keyLayout, sparsity.BlockMask, scale, settings);
        var exact = ReferenceComputations.MaskedAttention(q3, k3, v3, sparsity.QueryLabels, sparsity.KeyLabels, sparsity.BlockMask, scale);
        long maskDiffs = sparsity.BlockMask.ne(bf16.Sparsity.BlockMask).sum().item<long>();
        double bf16Gap = ReferenceComputations.RelativeError(fp8.Output, bf16.Output);
        var (passed, detail) = Judge(fp8.Output.squeeze(0), reference, exact, $"; vs the bf16 operator {bf16Gap:E2} ({maskDiffs} mask differences); " +
            $"{backend.CachedPipelines} cached pipeline(s) (1 = both ran fused)", maskDiffs == 0 && backend.CachedPipelines == 1);
        return (passed, detail);
    }

    /// <summary>Per-head and per-tile scales are the reference's alone: the kernels refuse them with a message that names the setting.</summary>
    public static (bool Passed, string Detail) OtherGranularitiesRefused(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var (q, k, v) = ReferenceComputations.RandomQkv(1, 256, 64, generator, device);
        using var backend = new CudaBackend();
        using var layout = backend.Layout(zeros([1, 256], ScalarType.Int64, device), 1);
        var mask = ones([1, 1, 1], ScalarType.Bool, device);
        var messages = new List<string>();
        foreach (var granularity in new[] { Fp8ScaleGranularity.PerHead, Fp8ScaleGranularity.PerTile })
        {
            try
            {
                backend.Fp8BlockSparseAttention(q, k, v, layout, layout, mask, 0.125, new Fp8AttentionSettings(granularity));
                messages.Add($"{granularity}: ran");
            }
            catch (NotSupportedException e) when (e.Message.Contains(granularity.ToString()) && e.Message.Contains("per-token"))
            {
                messages.Add($"{granularity}: refused");
            }
        }
        return (messages.All(m => m.EndsWith("refused")), string.Join("; ", messages));
    }

    /// <summary>
    /// The quantisation kernel under <paramref name="granularity"/> (per-token Q; per-token or per-head K) against
    /// <see cref="Fp8Quantizer"/> on the same GPU tensors (rows with a large common
    /// offset, an all-zero row and an all-zero channel): V bytes and every scale equal; K's smoothing mean (and Q's under
    /// <paramref name="smoothQueries"/>) comes from another reduction order, so their bytes may differ by one e4m3 step in a
    /// few elements, and Q smoothing's key bias agrees with <see cref="QuerySmoothing"/> to float32 rounding.
    /// </summary>
    public static (bool Passed, string Detail) QuantizationMatchesReference(Device device, int dim, int seed, Fp8ScaleGranularity granularity,
        bool smoothQueries = false)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, Tokens = 1000;
        var x = (randn([Groups, Tokens, dim], generator: generator) * 3 + randn([Groups, 1, dim], generator: generator) * 5);
        x[1, 7] = zeros(dim);
        x[2, TensorIndex.Colon, 5] = zeros(Tokens);
        var input = x.to(ScalarType.BFloat16).to(device);
        var library = KernelLibrary.For(CudaDevice.Get(device.index), ScalarType.BFloat16, dim);
        bool headKeys = granularity == Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys;
        using var operands = Fp8AttentionKernels.Quantize(library, input, input, input, new Fp8AttentionSettings(granularity, SmoothQueries: smoothQueries),
            IntPtr.Zero);
        var smoothedKeys = KeySmoothing.Smooth(input);
        var (smoothedQueries, referenceBias) = QuerySmoothing.Smooth(input, smoothedKeys);
        using var queries = Fp8Quantizer.RowTiles(smoothQueries ? smoothedQueries : input, 1);
        using var keys = Fp8Quantizer.RowTiles(smoothedKeys, headKeys ? Tokens : 1);
        var referenceKeyScales = headKeys ? keys.Scales.select(1, 0).squeeze(-1) : keys.Scales.squeeze(-1);
        using var values = Fp8Quantizer.Channels(input);
        long valueBytes = Decode(operands.Values).ne(values.DecodedValues()).sum().item<long>();
        (long Count, double Step) Steps(Tensor bytes, Fp8Quantized reference)
        {
            var gap = (Decode(bytes) - reference.DecodedValues()).abs() / reference.DecodedValues().abs().clamp_min(E4M3.MinSubnormal);
            return (gap.gt(0).sum().item<long>(), gap.max().item<float>());
        }
        var (queryBytes, queryStep) = Steps(operands.Queries, queries);
        var (keyBytes, keyStep) = Steps(operands.Keys, keys);
        // A smoothed tensor's rows are rounded from another mean, so their scales may move by its float32 rounding.
        double scaleGap = new[] { (operands.QueryScales, queries.Scales.squeeze(-1)), (operands.KeyScales, referenceKeyScales), (operands.ValueScales, values.Scales.squeeze(1)) }
            .Max(p => ((p.Item1 - p.Item2).abs() / p.Item2.abs()).max().item<float>());
        double biasGap = operands.KeyBias is null ? 0 : ReferenceComputations.RelativeError(operands.KeyBias, referenceBias);
        long allowedQueryBytes = smoothQueries ? input.numel() / 1000 : 0;
        bool passed = queryBytes <= allowedQueryBytes && queryStep <= 0.25 && valueBytes == 0 && keyBytes <= input.numel() / 1000 && keyStep <= 0.25
                      && scaleGap <= (smoothQueries ? 1e-5 : 1e-6) && (operands.KeyBias is null) != smoothQueries && biasGap <= 1e-5;
        return (passed, $"{queryBytes} Q bytes (largest relative step {queryStep:E2}) and {valueBytes} V bytes differ; {keyBytes} of {input.numel()} K bytes " +
                        $"(largest relative step {keyStep:E2}); largest relative scale gap {scaleGap:E1}" +
                        (smoothQueries ? $"; key bias vs reference {biasGap:E1}" : ""));
    }

    /// <summary>e4m3fn bytes as float32: sign, 4 exponent bits of bias 7, 3 mantissa bits, subnormals; S.1111.111 is NaN.</summary>
    static Tensor Decode(Tensor bytes)
    {
        var table = new float[256];
        for (int b = 0; b < 256; b++)
        {
            int exponent = (b >> 3) & 15, mantissa = b & 7;
            float magnitude = exponent == 15 && mantissa == 7 ? float.NaN
                : exponent == 0 ? mantissa * E4M3.MinSubnormal : (1 + mantissa / 8f) * MathF.Pow(2, exponent - 7);
            table[b] = (b & 128) != 0 ? -magnitude : magnitude;
        }
        using var lookup = tensor(table, device: bytes.device);
        return lookup.index_select(0, bytes.to(ScalarType.Int64).flatten()).view(bytes.shape);
    }

    /// <summary>The kernels' output for a mask, NaN before the launch: every element must be written.</summary>
    static Tensor KernelOutput(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor mask, double scale, Fp8AttentionSettings settings)
    {
        var library = KernelLibrary.For(CudaDevice.Get(q.device.index), q.dtype, (int)q.shape[2]);
        var output = full_like(q, double.NaN);
        using var workspace = new AttentionWorkspace(q.shape[0], queryLayout.Clusters, keyLayout.Clusters, q.device);
        SparseAttentionKernels.EnqueuePlan(library, queryLayout, keyLayout, mask, workspace, IntPtr.Zero);
        using var operands = Fp8AttentionKernels.Quantize(library, q, k, v, settings, IntPtr.Zero);
        Fp8AttentionKernels.EnqueueAttention(library, operands, output, queryLayout, keyLayout, workspace, scale, IntPtr.Zero);
        return output;
    }

    static (bool Passed, string Detail) Judge(Tensor output, Tensor reference, Tensor exact, string extra, bool extraPassed)
    {
        long nonFinite = output.isfinite().logical_not().sum().item<long>();
        double gap = ReferenceComputations.RelativeError(output, reference);
        double kernelError = ReferenceComputations.RelativeError(output, exact), referenceError = ReferenceComputations.RelativeError(reference, exact);
        bool passed = nonFinite == 0 && gap <= ReferenceTolerance && kernelError <= ErrorGrowth * referenceError && extraPassed;
        return (passed, $"kernel vs reference {gap:E2}; vs float32: kernel {kernelError:E2}, reference {referenceError:E2}; {nonFinite} NaN/Inf elements left{extra}");
    }
}
