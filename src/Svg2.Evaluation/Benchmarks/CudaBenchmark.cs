using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Backends;
using Svg2.Configuration;
using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using Svg2.Cuda.Traits;
using Svg2.Evaluation.Verification;
using Svg2.Evaluation.Workloads;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>
/// Times the CUDA SVG2 call stage by stage with CUDA events against PyTorch's dense SDPA in the same
/// run: at the density top_p 0.9 gives and at fixed densities chosen by bisection on top_p. The
/// whole-operator figure (and the speedup) is a call of <see cref="Svg2Attention.Forward"/> with a
/// <see cref="CudaBackend"/>, which runs the same pipeline the stages are timed on.
/// </summary>
public static class CudaBenchmark
{
    const int WarmupIterations = 10;
    const int InitIterations = 50;
    const int BisectionSteps = 18;

    /// <summary>
    /// Keys a cluster of the sampled probe timed beside the full one: at Wan 720p's 75 keys a cluster, 16 leave
    /// 6-27% more error than the full probe and 2.3-2.9x less than SVG2 (docs/quality.md).
    /// </summary>
    public const int SampledProbeKeys = 16;

    /// <summary>
    /// The probes svg2-ear is timed with at every density, the default first: the full walk and the sampled one, with
    /// the centroid normaliser (the default: a softmax over the size-weighted key centroids), each with per-row
    /// compensation's light tail at the default τ and without a tail (every skipped block a key per row), and the
    /// sampled one with a ten times larger tail.
    /// </summary>
    public static IReadOnlyList<(string Name, int? Keys, ProbeNormalisation Normalisation, double TailMass)> ErrorRoutedProbes { get; } =
    [
        ("full", null, ProbeNormalisation.Centroid, Svg2Options.DefaultCompensationTailMass),
        ($"{SampledProbeKeys}-key", SampledProbeKeys, ProbeNormalisation.Centroid, Svg2Options.DefaultCompensationTailMass),
        ("full, no tail", null, ProbeNormalisation.Centroid, 0),
        ($"{SampledProbeKeys}-key, no tail", SampledProbeKeys, ProbeNormalisation.Centroid, 0),
        ($"{SampledProbeKeys}-key, tail τ {10 * Svg2Options.DefaultCompensationTailMass:0e0}", SampledProbeKeys, ProbeNormalisation.Centroid,
            10 * Svg2Options.DefaultCompensationTailMass),
    ];

    /// <summary>A clustered synthetic workload: what it is, for the report.</summary>
    public const string WorkloadDescription =
        "the built-in video-like workload (moving objects over a background, Wan's 3D RoPE, local, temporal, semantic and mixed heads; docs/workload.md), bf16";

    /// <summary>Runs the benchmark for one shape.</summary>
    /// <param name="shape">The attention call.</param>
    /// <param name="iterations">Timed iterations per measurement (at least 20 recommended; fewer on the largest shapes).</param>
    /// <param name="fixedDensities">Target densities besides top_p 0.9 (e.g. 0.1, 0.2, 0.3).</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="ordinal">CUDA device.</param>
    /// <param name="seed">Seed of the workload.</param>
    /// <param name="stepIterations">k-means iterations of a warm call (the operator's and the stage timings').</param>
    public static BenchmarkReport Run(BenchmarkShape shape, int iterations, IReadOnlyList<double> fixedDensities, Action<string>? log = null, int ordinal = 0, long seed = 2026,
        int stepIterations = 2)
    {
        if (stepIterations < 1) throw new ArgumentException($"A warm call needs at least 1 k-means iteration; got {stepIterations}.", nameof(stepIterations));
        log ??= _ => { };
        var device = torch.device(DeviceType.CUDA, ordinal);
        var cuda = CudaDevice.Get(ordinal);
        var library = KernelLibrary.For(cuda, ScalarType.BFloat16, shape.HeadDim);
        using var scope = NewDisposeScope();
        var (q, k, v) = Workload(shape, device, seed);
        log($"{shape.Name}: inputs [{shape.Heads}, {shape.Tokens}, {shape.HeadDim}] bf16 generated");

        double denseMs = TimeDense(q, k, v, iterations, cuda);
        log($"dense SDPA {denseMs:F2} ms");
        var fp8Dense = Fp8AttentionKernels.Unsupported(library, Fp8AttentionSettings.Default) is null ? TimeFp8Dense(library, q, k, v, iterations, cuda) : null;
        if (fp8Dense is not null)
            log($"dense FP8 through the FP8 kernel: quantisation {fp8Dense.QuantizeMs:F2} ms, attention {fp8Dense.AttentionMs:F2} ms " +
                $"({denseMs / fp8Dense.AttentionMs:F2}x bf16 SDPA, {denseMs / fp8Dense.TotalMs:F2}x with the quantisation)");

        // The stages are timed on the backend's own pipeline for this shape, the one the operator runs.
        using var backend = new CudaBackend();
        var pipeline = backend.PipelineFor(new FusedShape(shape.Heads, shape.Tokens, shape.HeadDim, shape.QueryClusters, shape.KeyClusters,
            ScalarType.BFloat16, DeviceType.CUDA, ordinal, shape.Text));
        using var generator = new Generator((ulong)seed + 1);
        // Initial centroids are video rows: text rows are never clustered.
        var queryCentroids = q.gather(1, randint(0, shape.VideoTokens, [shape.Heads, shape.QueryClusters, 1], generator: generator).to(device).expand(-1, -1, shape.HeadDim)).contiguous();
        var keyCentroids = k.gather(1, randint(0, shape.VideoTokens, [shape.Heads, shape.KeyClusters, 1], generator: generator).to(device).expand(-1, -1, shape.HeadDim)).contiguous();
        using (var start = new CudaEvent(cuda))
        using (var end = new CudaEvent(cuda))
        {
            start.Record();
            pipeline.EnqueueQueryKMeans(q, queryCentroids, InitIterations);
            pipeline.EnqueueKeyKMeans(k, keyCentroids, InitIterations);
            end.Record();
            var initMs = CudaEvent.Elapsed(start, end);
            log($"k-means init ({InitIterations} iterations, q and k) {initMs:F1} ms");

            var points = new List<DensityPoint>();
            var defaultRule = new SelectionRule(0.9, 0.1);
            points.Add(Measure("top_p 0.9", defaultRule, backend, pipeline, q, k, v, queryCentroids, keyCentroids, iterations, denseMs, shape, cuda, log, stepIterations));
            log(TilePadding(pipeline));
            foreach (var target in fixedDensities)
            {
                var rule = RuleForDensity(target, pipeline, queryCentroids, keyCentroids);
                points.Add(Measure($"fixed {target:P0}", rule, backend, pipeline, q, k, v, queryCentroids, keyCentroids, iterations, denseMs, shape, cuda, log, stepIterations));
            }
            var steps = TimeSteps("q", (afterStep) => pipeline.EnqueueQueryKMeans(q, queryCentroids, 1, afterStep: afterStep), iterations, cuda)
                .Concat(TimeSteps("k", (afterStep) => pipeline.EnqueueKeyKMeans(k, keyCentroids, 1, afterStep: afterStep), iterations, cuda)).ToList();
            if (KMeansKernels.Unsupported(library, KMeansPrecision.Fp8) is null)
                steps.AddRange(TimeSteps("q, fp8", (afterStep) => pipeline.EnqueueQueryKMeans(q, queryCentroids, 1, afterStep: afterStep, precision: KMeansPrecision.Fp8), iterations, cuda)
                    .Concat(TimeSteps("k, fp8", (afterStep) => pipeline.EnqueueKeyKMeans(k, keyCentroids, 1, afterStep: afterStep, precision: KMeansPrecision.Fp8), iterations, cuda)));
            log("k-means per iteration: " + string.Join(", ", steps.Select(s => $"{s.Subject} {s.Step} {s.Milliseconds:F3} ms")));
            // Half the timed sample too: the routing's time at a smaller sample shows what a cheaper probe would buy; and the
            // default walk with the centroid normaliser, which drops sweep 1 and the merge.
            var exact = ProbeNormalisation.Exact;
            var probes = new[] { SampledProbeKeys, SampledProbeKeys / 2 }.Select(m => (Variant: RoutingProbeKernels.DefaultVariant, Keys: (int?)m, Normalisation: exact))
                .Concat(new int?[] { SampledProbeKeys, null }.Select(m => (RoutingProbeKernels.DefaultVariant, m, ProbeNormalisation.Centroid)))
                .Concat(ProbeVariantsInOrder().Select(variant => (variant, (int?)null, exact)));
            foreach (var (variant, keys, normalisation) in probes)
            {
                string label = $"error routing per call ({RoutingProbeKernels.SettingName(variant)} probe" +
                               (keys is { } m ? $", {m} sampled keys a cluster" : "") +
                               (normalisation == exact ? ")" : ", centroid normaliser)");
                try
                {
                    var parts = TimeSteps(variant.ToString(), afterStep => EnqueueErrorRouting(pipeline, k, v, queryCentroids, keyCentroids, variant, keys, normalisation, afterStep),
                        iterations, cuda).ToList();
                    log($"{label}: " + string.Join(", ", parts.Select(s => $"{s.Step} {s.Milliseconds:F3} ms")) + $"; total {parts.Sum(s => s.Milliseconds):F2} ms");
                }
                catch (Exception error)
                {
                    // One variant's failure (a kernel that does not build or launch, a libtorch error) is its line's result; the others still run.
                    log($"{label}: failed: {error.Message}");
                }
            }
            // The segment means give each cluster one block, so the largest cluster bounds their time.
            long LargestVideoCluster(Svg2.Algorithm.ClusterLayout layout, int clusters)
            {
                using var sizes = layout.Sizes.narrow(1, 0, clusters);
                using var largest = sizes.max();
                return largest.item<long>();
            }
            log($"largest cluster: q {LargestVideoCluster(pipeline.QueryLayout, shape.QueryClusters)} rows (mean {(double)shape.VideoTokens / shape.QueryClusters:F0}), " +
                $"k {LargestVideoCluster(pipeline.KeyLayout, shape.KeyClusters)} rows (mean {(double)shape.VideoTokens / shape.KeyClusters:F0})");
            return new BenchmarkReport(shape, $"{cuda.Name} ({cuda.Architecture}, {library.Family.ToString().ToLowerInvariant()} kernels)", denseMs, initMs,
                iterations, points, pipeline.BufferBytes, WorkloadDescription, steps, fp8Dense, stepIterations);
        }
    }

    /// <summary>The routing probe's variants, the operator's default first, the others in declaration order.</summary>
    static IEnumerable<RoutingProbeVariant> ProbeVariantsInOrder() =>
        Enum.GetValues<RoutingProbeVariant>().OrderBy(variant => variant == RoutingProbeKernels.DefaultVariant ? 0 : 1);

    /// <summary>The query-tile padding of the pipeline's current selection (<see cref="QueryTilePadding"/>).</summary>
    static string TilePadding(CudaSvg2Pipeline pipeline)
    {
        var padding = QueryTilePadding.Of(pipeline.QueryLayout.Sizes, pipeline.SelectedKeys, pipeline.BlockMask, pipeline.KeyLayout.Sizes);
        return $"query tile padding at top_p 0.9: {QueryTilePadding.TileRows}-row tiles compute {padding.Tiles:P1} more rows x keys than the clusters hold, " +
               $"{QueryTilePadding.HalfRows}-row halves {padding.Halves:P1}; with pair tiles (the last halves of two clusters sharing one over their keys' union, the Hopper plan's rule, {TailPairSetting.Setting}={(TailPairSetting.Enabled ? "on" : "off")} here): {padding.SharedHalves:P1}";
    }

    /// <summary>
    /// One error-routed selection on the pipeline's current layouts, as <see cref="Svg2Attention"/> runs it after
    /// the k-means: the probe's kernels and score normalisation, the selection of the blocks and their plan.
    /// </summary>
    static void EnqueueErrorRouting(CudaSvg2Pipeline pipeline, Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, RoutingProbeVariant variant,
        int? sampledKeys, ProbeNormalisation normalisation, Action<string> afterStep)
    {
        using var scope = NewDisposeScope();
        var scores = pipeline.EnqueueRoutingProbe(k, v, queryCentroids, keyCentroids, variant, afterStep, sampledKeys, normalisation);
        var rule = new Svg2Options().ErrorRoutingRule;
        pipeline.EnqueueErrorSelection(scores, rule);
        afterStep("error-aware selection");
        pipeline.EnqueuePlan(rule.MinimumKept(pipeline.KeyClusters));
        afterStep("plan");
    }

    /// <summary>
    /// Times each step of a warm call (one k-means iteration, one error routing) with events recorded between
    /// the steps: the mean of each step over <paramref name="iterations"/> calls after the warm-ups.
    /// </summary>
    static IEnumerable<StepTime> TimeSteps(string subject, Action<Action<string>> enqueueCall, int iterations, CudaDevice cuda)
    {
        var totals = new Dictionary<string, double>();
        var order = new List<string>();
        for (int i = 0; i < WarmupIterations + iterations; i++)
        {
            var marks = new List<(string Step, CudaEvent Event)>();
            using var start = new CudaEvent(cuda);
            start.Record();
            try
            {
                enqueueCall(step =>
                {
                    var mark = new CudaEvent(cuda);
                    mark.Record();
                    marks.Add((step, mark));
                });
                if (i < WarmupIterations) continue;
                var previous = start;
                foreach (var (step, mark) in marks)
                {
                    if (!totals.ContainsKey(step)) order.Add(step);
                    totals[step] = totals.GetValueOrDefault(step) + CudaEvent.Elapsed(previous, mark);
                    previous = mark;
                }
            }
            finally
            {
                foreach (var (_, mark) in marks) mark.Dispose();
            }
        }
        return order.Select(step => new StepTime(subject, step, totals[step] / iterations));
    }

    /// <summary>q, k, v [H, S, D] bf16 from the built-in video-like workload of the same shape.</summary>
    static (Tensor Q, Tensor K, Tensor V) Workload(BenchmarkShape shape, Device device, long seed)
    {
        var videoShape = VideoShape.FromName(shape.Name);
        if (videoShape.Heads != shape.Heads || videoShape.SequenceLength != shape.Tokens || videoShape.HeadDim != shape.HeadDim
            || videoShape.TextTokens != shape.TextRows || videoShape.PromptLength != shape.PromptRows)
            throw new InvalidOperationException($"The workload shape {shape.Name} does not match the benchmark shape.");
        using var scope = NewDisposeScope();
        using var sample = VideoLikeWorkload.Generate(videoShape, (int)seed, ScalarType.BFloat16, device);
        Tensor Heads(Tensor x) => x.squeeze(0).contiguous().MoveToOuterDisposeScope();
        return (Heads(sample.Query), Heads(sample.Key), Heads(sample.Value));
    }

    static double TimeDense(Tensor q, Tensor k, Tensor v, int iterations, CudaDevice cuda)
    {
        var q4 = q.unsqueeze(0);
        var k4 = k.unsqueeze(0);
        var v4 = v.unsqueeze(0);
        for (int i = 0; i < WarmupIterations; i++)
        {
            using var warm = NewDisposeScope();
            nn.functional.scaled_dot_product_attention(q4, k4, v4);
        }
        using var start = new CudaEvent(cuda);
        using var end = new CudaEvent(cuda);
        start.Record();
        for (int i = 0; i < iterations; i++)
        {
            using var timed = NewDisposeScope();
            nn.functional.scaled_dot_product_attention(q4, k4, v4);
        }
        end.Record();
        return CudaEvent.Elapsed(start, end) / iterations;
    }

    /// <summary>
    /// Dense attention in FP8 as the FP8 kernel runs it: every row in one query and one key cluster, the one block
    /// selected, planned once; the quantisation and the kernel timed per call.
    /// </summary>
    static Fp8AttentionTiming TimeFp8Dense(KernelLibrary library, Tensor q, Tensor k, Tensor v, int iterations, CudaDevice cuda)
    {
        using var scope = NewDisposeScope();
        using var backend = new CudaBackend();
        long groups = q.shape[0];
        using var queryLayout = backend.Layout(zeros([groups, q.shape[1]], ScalarType.Int64, q.device), 1);
        using var keyLayout = backend.Layout(zeros([groups, k.shape[1]], ScalarType.Int64, k.device), 1);
        using var workspace = new AttentionWorkspace(groups, 1, 1, q.device);
        SparseAttentionKernels.EnqueuePlan(library, queryLayout, keyLayout, ones([groups, 1, 1], ScalarType.Bool, q.device), workspace, IntPtr.Zero);
        var output = empty_like(q);
        double scale = 1.0 / Math.Sqrt(q.shape[2]);
        var parts = TimeSteps("fp8 dense", afterStep =>
        {
            using var operands = Fp8AttentionKernels.Quantize(library, q, k, v, Fp8AttentionSettings.Default, IntPtr.Zero);
            afterStep("quantisation");
            Fp8AttentionKernels.EnqueueAttention(library, operands, output, queryLayout, keyLayout, workspace, scale, IntPtr.Zero);
            afterStep("attention");
        }, iterations, cuda).ToDictionary(t => t.Step, t => t.Milliseconds);
        var bf16 = nn.functional.scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)).squeeze(0);
        return new Fp8AttentionTiming(parts["quantisation"], parts["attention"], double.NaN, ReferenceComputations.RelativeError(output, bf16));
    }

    /// <summary>Mean time of <paramref name="stepIterations"/> warm k-means iterations on q and on k, side by side as the operator enqueues them, under <paramref name="precision"/>.</summary>
    static double TimeKMeans(CudaSvg2Pipeline pipeline, Tensor q, Tensor k, Tensor queryCentroids, Tensor keyCentroids, KMeansPrecision precision, int iterations, CudaDevice cuda,
        int stepIterations)
    {
        using var start = new CudaEvent(cuda);
        using var end = new CudaEvent(cuda);
        for (int i = 0; i < WarmupIterations; i++) Enqueue();
        start.Record();
        for (int i = 0; i < iterations; i++) Enqueue();
        end.Record();
        return CudaEvent.Elapsed(start, end) / iterations;

        void Enqueue()
        {
            pipeline.EnqueueKMeans(q, k, queryCentroids, keyCentroids, stepIterations, precision: precision);
        }
    }

    /// <summary>
    /// The rule whose selection (minimum ratio 0, so densities under the 10% floor are reachable)
    /// gives the target density for the current centroids: bisection on top_p.
    /// </summary>
    static SelectionRule RuleForDensity(double target, CudaSvg2Pipeline pipeline, Tensor queryCentroids, Tensor keyCentroids)
    {
        double low = 0, high = 1;
        for (int step = 0; step < BisectionSteps; step++)
        {
            double middle = (low + high) / 2;
            pipeline.EnqueueSelection(queryCentroids, keyCentroids, new SelectionRule(middle, 0));
            using var density = pipeline.Density();
            if (density.mean().item<double>() < target) low = middle; else high = middle;
        }
        return new SelectionRule(high, 0);
    }

    static DensityPoint Measure(string label, SelectionRule rule, CudaBackend backend, CudaSvg2Pipeline pipeline, Tensor q, Tensor k, Tensor v,
        Tensor queryCentroids, Tensor keyCentroids, int iterations, double denseMs, BenchmarkShape shape, CudaDevice cuda, Action<string> log, int stepIterations)
    {
        // The operator first: it shares the pipeline, and the stage loop below then leaves the pipeline
        // (key sizes, layouts) consistent with this benchmark's centroids for the next selection.
        var (operatorMs, operatorDensity) = TimeOperator(rule, CompensationMode.None, backend, q, k, v, iterations, shape, cuda, stepIterations);
        var (clusterCompensatedMs, _) = TimeOperator(rule, CompensationMode.PerQueryCluster, backend, q, k, v, iterations, shape, cuda, stepIterations);
        // Per row fuses only with the Hopper kernels; on others it would time the portable reference.
        double rowCompensatedMs = pipeline.Compensates(CompensationMode.PerRow)
            ? TimeOperator(rule, CompensationMode.PerRow, backend, q, k, v, iterations, shape, cuda, stepIterations).Milliseconds
            : double.NaN;
        var errorRouted = pipeline.Compensates(CompensationMode.PerRow)
            ? ErrorRoutedProbes.Select(probe =>
            {
                var (ms, density) = TimeOperator(rule, CompensationMode.PerRow, backend, q, k, v, iterations, shape, cuda, stepIterations,
                    errorRoutingDensity: operatorDensity, probeKeys: probe.Keys, normalisation: probe.Normalisation, tailMass: probe.TailMass);
                return new ErrorRoutedTiming(probe.Name, ms, density);
            }).ToList()
            : [];
        double scale = 1.0 / Math.Sqrt(shape.HeadDim);
        var events = Enumerable.Range(0, 5).Select(_ => new CudaEvent(cuda)).ToArray();
        var sums = new double[4];
        // Host time to enqueue one call (launch arguments, checks, launches): hidden while the GPU is
        // busy, and gone when the call is replayed from a CUDA graph.
        var enqueue = new System.Diagnostics.Stopwatch();
        try
        {
            for (int i = 0; i < WarmupIterations + iterations; i++)
            {
                if (i >= WarmupIterations) enqueue.Start();
                events[0].Record();
                pipeline.EnqueueQueryKMeans(q, queryCentroids, stepIterations);
                events[1].Record();
                pipeline.EnqueueKeyKMeans(k, keyCentroids, stepIterations);
                events[2].Record();
                pipeline.EnqueueSelection(queryCentroids, keyCentroids, rule);
                events[3].Record();
                pipeline.EnqueueAttention(q, k, v, scale);
                events[4].Record();
                enqueue.Stop();
                if (i < WarmupIterations) continue;
                for (int stage = 0; stage < 4; stage++) sums[stage] += CudaEvent.Elapsed(events[stage], events[stage + 1]);
            }
        }
        finally
        {
            foreach (var e in events) e.Dispose();
        }
        double tailShare = TailShare(pipeline, queryCentroids, keyCentroids, scale, Svg2Options.DefaultCompensationTailMass);
        double density, entries;
        using (var perHead = pipeline.Density()) density = perHead.mean().item<double>();
        using (var computed = pipeline.ComputedEntries()) entries = computed.item<double>();
        // FP8 attention on the plan the loop left, then the FP8 operator at the same rule.
        Fp8AttentionTiming? fp8 = null;
        var fp8Variants = new List<(string Name, double QuantizeMs, double AttentionMs, double Error)>();
        if (Fp8AttentionKernels.Unsupported(KernelLibrary.For(cuda, ScalarType.BFloat16, shape.HeadDim), Fp8AttentionSettings.Default) is null)
        {
            // The loop's last call left the bf16 kernel's output; each FP8 timing leaves its own in its place.
            using var bf16Output = pipeline.Output.clone();
            Dictionary<string, double> TimeFp8Kernel(Fp8AttentionSettings settings) =>
                TimeSteps("fp8", afterStep => pipeline.EnqueueFp8Attention(q, k, v, pipeline.Output, scale, settings, afterStep: afterStep), iterations, cuda)
                    .ToDictionary(t => t.Step, t => t.Milliseconds);
            var parts = TimeFp8Kernel(Fp8AttentionSettings.Default);
            double error = ReferenceComputations.RelativeError(pipeline.Output, bf16Output);
            // The faster, less accurate per-head key scales (--fp8-keys head) and Q smoothing (--fp8-queries smooth), kernel and quantisation only.
            foreach (var (name, settings) in new[]
            {
                ("with per-head K scales (--fp8-keys head)", Fp8AttentionSettings.Default with { Scales = Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys }),
                ("with Q smoothing (--fp8-queries smooth)", Fp8AttentionSettings.Default with { SmoothQueries = true }),
            })
            {
                var variant = TimeFp8Kernel(settings);
                fp8Variants.Add((name, variant["quantisation"], variant["attention"], ReferenceComputations.RelativeError(pipeline.Output, bf16Output)));
            }
            // The operator last: it shares the pipeline and leaves its own plan there, so an FP8 kernel timed after it would
            // be compared with a bf16 output of another plan.
            fp8 = new Fp8AttentionTiming(parts["quantisation"], parts["attention"],
                TimeOperator(rule, CompensationMode.None, backend, q, k, v, iterations, shape, cuda, stepIterations, precision: AttentionPrecision.Fp8).Milliseconds, error);
        }
        // k-means side by side, and with FP8 distances last: its layouts then stand in the pipeline, and the reads above are done.
        double sideBySideMs = TimeKMeans(pipeline, q, k, queryCentroids, keyCentroids, KMeansPrecision.Input, iterations, cuda, stepIterations);
        var (fp8KMeansMs, fp8OperatorMs) = KMeansKernels.Unsupported(KernelLibrary.For(cuda, ScalarType.BFloat16, shape.HeadDim), KMeansPrecision.Fp8) is null
            ? (TimeKMeans(pipeline, q, k, queryCentroids, keyCentroids, KMeansPrecision.Fp8, iterations, cuda, stepIterations),
               TimeOperator(rule, CompensationMode.None, backend, q, k, v, iterations, shape, cuda, stepIterations, kmeansPrecision: KMeansPrecision.Fp8).Milliseconds)
            : (double.NaN, double.NaN);
        var point = new DensityPoint(label, rule.TopP, rule.MinKeyClusterRatio, density,
            sums[0] / iterations, sums[1] / iterations, sums[2] / iterations, sums[3] / iterations, denseMs, entries, shape.HeadDim, operatorMs, operatorDensity, clusterCompensatedMs, rowCompensatedMs,
            errorRouted, sideBySideMs, fp8KMeansMs, fp8OperatorMs, fp8);
        log($"{label}: density {point.Density:P1}, k-means q {point.KMeansQueryMs:F2} ms, k {point.KMeansKeyMs:F2} ms, selection {point.SelectionMs:F2} ms, " +
            $"attention {point.AttentionMs:F2} ms ({point.EffectiveTflops:F0} TFLOP/s, {point.PercentOfIdeal:P0} of ideal), stages {point.TotalMs:F2} ms, " +
            $"operator {point.OperatorMs:F2} ms (density {point.OperatorDensity:P1}), {point.Speedup:F2}x vs dense; " +
            $"with compensation per query cluster {point.ClusterCompensatedMs:F2} ms ({point.ClusterCompensationOverhead:+0.0%;-0.0%}), " +
            $"per row {point.RowCompensatedMs:F2} ms ({point.RowCompensationOverhead:+0.0%;-0.0%}), its light tail (τ {Svg2Options.DefaultCompensationTailMass:0e0}) " +
            $"{tailShare:P1} of the skipped non-empty blocks; " +
            $"k-means q + k side by side {point.KMeansSideBySideMs:F2} ms; with FP8 k-means distances: k-means q + k {point.KMeansFp8Ms:F2} ms, operator {point.OperatorFp8KMeansMs:F2} ms ({point.Fp8KMeansSpeedup:F2}x); " +
            (fp8 is null ? "" : $"FP8 attention: quantisation {fp8.QuantizeMs:F2} ms, kernel {fp8.AttentionMs:F2} ms ({point.Fp8KernelSpeedup:F2}x the bf16 kernel, " +
                                $"{point.Fp8PercentOfBf16Ideal:P0} of the bf16 ideal, error vs bf16 {fp8.RelativeError:E2}), operator {fp8.OperatorMs:F2} ms ({point.Fp8OperatorSpeedup:F2}x vs bf16 dense); ") +
            string.Concat(fp8Variants.Select(f => $"{f.Name}: quantisation {f.QuantizeMs:F2} ms, kernel {f.AttentionMs:F2} ms " +
                                                  $"({point.AttentionMs / f.AttentionMs:F2}x the bf16 kernel, error vs bf16 {f.Error:E2}); ")) +
            string.Concat(point.ErrorRouted.Select(t => $"svg2-ear, {t.Probe} probe, {t.Milliseconds:F2} ms ({point.Overhead(t):+0.0%;-0.0%}) at density {t.Density:P1}; ")) +
            $"host enqueue {enqueue.Elapsed.TotalMilliseconds / iterations:F3} ms a call");
        return point;
    }

    /// <summary>
    /// The share of the skipped non-empty video blocks of the pipeline's current selection that per-row compensation's
    /// light tail (<see cref="CompensationTail"/> at <paramref name="tailMass"/>) folds into one term per query cluster.
    /// </summary>
    static double TailShare(CudaSvg2Pipeline pipeline, Tensor queryCentroids, Tensor keyCentroids, double scale, double tailMass)
    {
        using var scope = NewDisposeScope();
        long queryClusters = queryCentroids.shape[1], keyClusters = keyCentroids.shape[1];
        var keySizes = pipeline.KeyLayout.Sizes.narrow(1, 0, keyClusters);
        var logits = ClusterCompensationTerms.CentroidLogits(queryCentroids, keyCentroids, keySizes, scale);
        var skipped = pipeline.BlockMask.narrow(1, 0, queryClusters).narrow(2, 0, keyClusters).logical_not() & keySizes.gt(0).unsqueeze(1);
        var inTail = skipped & CompensationTail.Of(logits, tailMass);
        return inTail.sum().item<long>() / (double)Math.Max(1, skipped.sum().item<long>());
    }

    /// <summary>
    /// Mean time of a warm <see cref="Svg2Attention.Forward"/> call on [1, H, S, D] inputs with the CUDA
    /// backend under <paramref name="rule"/> and <paramref name="compensation"/> (cold first call from
    /// random centroids, then the warm-ups, untimed), and the mean density of its last call. With
    /// <paramref name="errorRoutingDensity"/>, the call routes by estimated error instead of top-p, its
    /// threshold searched on the cold call to reach that density (the layer's chosen threshold, fixed for
    /// the timed calls), its probe walking <paramref name="probeKeys"/> sampled keys a cluster when set.
    /// </summary>
    static (double Milliseconds, double Density) TimeOperator(SelectionRule rule, CompensationMode compensation, CudaBackend backend, Tensor q, Tensor k, Tensor v,
        int iterations, BenchmarkShape shape, CudaDevice cuda, int stepIterations, double? errorRoutingDensity = null, int? probeKeys = null,
        ProbeNormalisation normalisation = ProbeNormalisation.Exact, KMeansPrecision kmeansPrecision = KMeansPrecision.Input,
        AttentionPrecision precision = AttentionPrecision.BFloat16, double tailMass = Svg2Options.DefaultCompensationTailMass)
    {
        var options = new Svg2Options
        {
            QueryClusters = shape.QueryClusters, KeyClusters = shape.KeyClusters, TopP = rule.TopP, MinKeyClusterRatio = rule.MinKeyClusterRatio,
            SelectionPrecision = rule.Precision, InitIterations = InitIterations, StepIterations = stepIterations, ScaleClusterCounts = false,
            Compensation = compensation,
            Routing = errorRoutingDensity is null ? KeyClusterRouting.TopP : KeyClusterRouting.ErrorAware,
            TargetDensity = errorRoutingDensity, ProbeKeysPerCluster = probeKeys, ProbeNormalisation = normalisation, KMeansPrecision = kmeansPrecision,
            Precision = precision, CompensationTailMass = tailMass,
        };
        var attention = new Svg2Attention(options, backend);
        using var state = new Svg2LayerState();
        using var scope = NewDisposeScope();
        var (q4, k4, v4) = (q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0));
        for (int i = 0; i < 1 + WarmupIterations; i++)
            attention.Forward(q4, k4, v4, state, shape.Text).Dispose();
        using var start = new CudaEvent(cuda);
        using var end = new CudaEvent(cuda);
        Svg2Result? last = null;
        start.Record();
        for (int i = 0; i < iterations; i++)
        {
            last?.Dispose();
            last = attention.Forward(q4, k4, v4, state, shape.Text);
        }
        end.Record();
        double milliseconds = CudaEvent.Elapsed(start, end) / iterations;
        using (last)
            return (milliseconds, last!.DensityPerHead().Average());
    }
}
