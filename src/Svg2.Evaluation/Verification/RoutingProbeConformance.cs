using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Backends;
using Svg2.Configuration;
using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Statistics;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// Checks of svg2-ear's error-aware routing on the <see cref="CudaBackend"/>: the probe kernels
/// (probe.cu) against the float64 reference probe (<see cref="CompensationErrorProbe.Estimate"/>) on the
/// same inputs, and the fused svg2-ear operator (probe, selection and per-row compensation) against the
/// staged one and against the reference routing over its own clusters.
/// </summary>
public static class RoutingProbeConformance
{
    /// <summary>Relative error allowed on the scores of the blocks that matter (see <see cref="MattersBelowMax"/>).</summary>
    public const double ScoreTolerance = 1e-2;

    /// <summary>Blocks scoring under this fraction of their head's largest score are not compared (their relative error does not decide any selection).</summary>
    public const double MattersBelowMax = 1e-6;

    /// <summary>Least share of selected blocks two selections must have in common (intersection over union).</summary>
    public const double SelectionOverlap = 0.97;

    /// <summary>
    /// Least overlap of the fused and staged selections: the staged probe takes float32 member means where the
    /// fused one takes the bf16 centroids, so blocks near the threshold may differ by that rounding alone.
    /// </summary>
    public const double StagedSelectionOverlap = 0.9;

    /// <summary>
    /// Largest relative difference allowed between probe variants of the same arithmetic (<see cref="RoutingProbeKernels.SameArithmetic"/>):
    /// they run the same operations in the same order, so only the compiler's contraction choices may part them.
    /// </summary>
    public const double VariantTolerance = 1e-5;

    /// <summary>Largest relative gap between the backend's scores (normalised in sweep 2) and the kernels' squared errors normalised by the reference formula.</summary>
    public const double BackendScoreTolerance = 1e-12;

    /// <summary>The density budget at which the selections are compared.</summary>
    public const double Budget = 0.15;

    /// <summary>Keys per cluster of the sampled probes checked: the Wan 720p choice, and one that splits a 16-key chunk.</summary>
    static readonly int[] SampledKeys = [16, 5];

    /// <summary>
    /// Runs every check on <paramref name="device"/>; a failed check never stops the others. The default probe variant
    /// and the fused operator come first, then every other variant (<see cref="RoutingProbeVariant"/>).
    /// </summary>
    public static IReadOnlyList<ConformanceResult> RunAll(Device device, int seed)
    {
        (ScalarType Element, int Dim)[] configurations = [(ScalarType.BFloat16, 64), (ScalarType.BFloat16, 128), (ScalarType.Float16, 128)];
        var defaultVariant = RoutingProbeKernels.DefaultVariant;
        ConformanceResult KernelCheck(RoutingProbeVariant variant, (ScalarType Element, int Dim) c) =>
            CudaConformance.Run($"routing probe kernels ({RoutingProbeKernels.SettingName(variant)}) vs float64 reference probe " +
                                $"({(c.Element == ScalarType.BFloat16 ? "bf16" : "fp16")} D{c.Dim})",
                () => KernelMatchesReference(device, c.Element, c.Dim, seed + c.Dim, variant));
        ConformanceResult SampledCheck(int keys, (ScalarType Element, int Dim) c) =>
            CudaConformance.Run($"routing probe kernels, {keys} sampled keys a cluster ({RoutingProbeKernels.SettingName(defaultVariant)}) vs float64 reference sampled probe " +
                                $"({(c.Element == ScalarType.BFloat16 ? "bf16" : "fp16")} D{c.Dim})",
                () => KernelMatchesReference(device, c.Element, c.Dim, seed + c.Dim + keys, defaultVariant, keys));
        return
        [
            .. configurations.Select(c => KernelCheck(defaultVariant, c)),
            .. from keys in SampledKeys from c in configurations select SampledCheck(keys, c),
            CudaConformance.Run("fused svg2-ear (error routing, per-row compensation) vs staged and vs the float64 reference routing",
                () => FusedMatchesStagedAndReference(device, seed + 1)),
            CudaConformance.Run($"fused svg2-ear with a sampled probe ({SampledKeys[0]} keys a cluster) vs staged and vs the float64 reference routing",
                () => FusedMatchesStagedAndReference(device, seed + 2, SampledKeys[0])),
            .. from keys in new int?[] { null, SampledKeys[0] }
               from c in configurations.Skip(1)
               select CudaConformance.Run($"routing probe kernels with the centroid normaliser{(keys is { } m ? $", {m} sampled keys a cluster" : "")} vs float64 reference probe " +
                                          $"({(c.Element == ScalarType.BFloat16 ? "bf16" : "fp16")} D{c.Dim})",
                   () => KernelMatchesReference(device, c.Element, c.Dim, seed + c.Dim + 7, defaultVariant, keys, ProbeNormalisation.Centroid)),
            CudaConformance.Run("fused svg2-ear with the centroid normaliser vs staged and vs the float64 reference routing",
                () => FusedMatchesStagedAndReference(device, seed + 4, normalisation: ProbeNormalisation.Centroid)),
            .. SampledKeys.Select(keys => CudaConformance.Run($"probe key sample kernel = reference sample ({keys} keys a cluster; empty, short and long clusters)",
                () => KeySampleMatchesReference(device, seed + 5 + keys, keys))),
            CudaConformance.Run("error-aware selection kernel = reference selection (ties, zeros, infinities, NaN rows)",
                () => SelectionKernelMatchesReference(device, seed + 3)),
            .. from variant in Enum.GetValues<RoutingProbeVariant>()
               where variant != defaultVariant
               from c in configurations
               select KernelCheck(variant, c),
        ];
    }

    /// <summary>
    /// <see cref="RoutingProbeKernels.KeySample"/> against <see cref="ProbeKeySample.Of"/> on layouts with empty clusters,
    /// clusters shorter than, as long as and longer than the sample, key counts past one block of threads, and offsets
    /// wider than the key clusters (a layout with text clusters after them): every tensor equal, element for element.
    /// </summary>
    public static (bool Passed, string Detail) KeySampleMatchesReference(Device device, int seed, int perCluster)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var library = KernelLibrary.For(CudaDevice.Get(device.index), ScalarType.BFloat16, 64);
        long differing = 0, compared = 0;
        foreach (var (groups, keyClusters, extra) in new[] { (3, 40, 0), (2, 1000, 2), (2, 300, 0) })
        {
            var sizes = randint(0, 3 * perCluster, [groups, keyClusters + extra], generator: generator);
            sizes[TensorIndex.Colon, TensorIndex.Slice(0, 3)] = tensor(new long[] { 0, perCluster, perCluster + 1 });
            var offsets = cat([zeros([groups, 1], ScalarType.Int64), sizes.cumsum(1)], 1).to(device);
            using var expected = ProbeKeySample.Of(offsets, keyClusters, perCluster);
            using var actual = RoutingProbeKernels.KeySample(library, offsets, keyClusters, perCluster, IntPtr.Zero);
            foreach (var (a, e) in new[] { (actual.Positions, expected.Positions), (actual.Clusters, expected.Clusters), (actual.Offsets, expected.Offsets),
                                           (actual.LogWeights, expected.LogWeights) })
            {
                differing += a.shape.SequenceEqual(e.shape) ? a.ne(e).sum().item<long>() : a.numel() + e.numel();
                compared += e.numel();
            }
        }
        return (differing == 0, $"{differing} of {compared} elements differ (positions, clusters, offsets, log weights over 3 layouts)");
    }

    /// <summary>
    /// The selection kernel (<see cref="ErrorAwareSelectionKernel"/>) against <see cref="ErrorAwareSelection.Select"/>,
    /// element for element, on scores built to stress its ranking: few distinct values (long ties across the kept
    /// rank), +0 and -0, +inf, rows with a NaN; key-cluster counts under, at and past one block of threads, past the
    /// radix histogram and up to Wan 720p's; minimum ratios from none to all, thresholds from 0 to +inf. Each launch
    /// writes into a mask wider and taller than the scores, filled with true and then with false before the launch:
    /// the selection must come out the same under both fills, and the cells past QC and KC must keep the fill.
    /// </summary>
    public static (bool Passed, string Detail) SelectionKernelMatchesReference(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var library = KernelLibrary.For(CudaDevice.Get(device.index), ScalarType.BFloat16, 64);
        (int Groups, int QueryClusters, int KeyClusters)[] shapes = [(2, 5, 3), (3, 17, 256), (2, 9, 257), (2, 40, 1000), (1, 6, 4097)];
        double[] ratios = [0, 0.05, 0.3, 1];
        double[] thresholds = [0, 0.5, 2, double.PositiveInfinity];
        long compared = 0, differing = 0, overwritten = 0;
        foreach (var (groups, queryClusters, keyClusters) in shapes)
        {
            // Eight levels in [0, 2): ties everywhere; then signed zeros, infinities and a NaN row per head.
            var scores = (randint(0, 8, [groups, queryClusters, keyClusters], generator: generator).to(ScalarType.Float64) / 4).to(device);
            var special = rand([groups, queryClusters, keyClusters], generator: generator).to(device);
            scores = where(special < 0.05, tensor(-0.0, ScalarType.Float64, device: device), scores);
            scores = where(special > 0.97, tensor(double.PositiveInfinity, ScalarType.Float64, device: device), scores);
            scores[TensorIndex.Colon, 1 % queryClusters, keyClusters / 2] = tensor(double.NaN, ScalarType.Float64);
            scores = scores.contiguous();
            foreach (double ratio in ratios)
            foreach (double threshold in thresholds)
            {
                var rule = new ErrorRoutingRule(threshold, ratio);
                using var expected = ErrorAwareSelection.Select(scores, rule);
                foreach (bool fill in new[] { true, false })
                {
                    using var mask = full([groups, queryClusters + 1, keyClusters + 2], fill, ScalarType.Bool, device);
                    ErrorAwareSelectionKernel.Enqueue(library, scores, rule, mask, IntPtr.Zero);
                    using var selected = mask.narrow(1, 0, queryClusters).narrow(2, 0, keyClusters);
                    differing += selected.ne(expected).sum().item<long>();
                    compared += expected.numel();
                    using var rowsPast = mask.narrow(1, queryClusters, 1);
                    using var columnsPast = mask.narrow(1, 0, queryClusters).narrow(2, keyClusters, 2);
                    overwritten += rowsPast.ne(fill).sum().item<long>() + columnsPast.ne(fill).sum().item<long>();
                }
            }
        }
        return (differing == 0 && overwritten == 0,
            $"{compared} blocks over {shapes.Length} shapes x {ratios.Length} ratios x {thresholds.Length} thresholds x 2 fills: {differing} differ from the reference; " +
            $"{overwritten} cells past QC or KC overwritten");
    }

    /// <summary>
    /// The kernels' squared errors and scores against the reference on the same inputs (means rounded to the
    /// element type, as the kernels take them): clustered keys and values with empty key clusters,
    /// clusters shorter than one 16-key chunk, of a chunk and a bit, and longer than a 64-key tile; a query
    /// tile that is partly past QC; several key splits. Outputs are NaN before the launch and every element
    /// is checked after; empty key clusters must score exactly 0. The kernels run <paramref name="variant"/>; a variant
    /// of the same arithmetic (<see cref="RoutingProbeKernels.SameArithmetic"/>) must give the same squared errors and
    /// outputs (<see cref="VariantTolerance"/>), and the gap to the default variant is reported where they differ.
    /// With <paramref name="sampledKeysPerCluster"/> both probes walk the same key sample (<see cref="ProbeKeySample"/>):
    /// clusters larger and smaller than the sample, weighted and whole. <paramref name="normalisation"/> picks the
    /// normaliser of both (<see cref="ProbeNormalisation"/>).
    /// </summary>
    public static (bool Passed, string Detail) KernelMatchesReference(Device device, ScalarType dtype, int dim, int seed, RoutingProbeVariant variant,
        int? sampledKeysPerCluster = null, ProbeNormalisation normalisation = ProbeNormalisation.Exact)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, QueryClusters = 70;
        int[] fixedSizes = [0, 0, 0, 1, 3, 7, 15, 16, 17, 31, 33, 64, 65, 100, 200, 300];
        const int KeyClusters = 96;
        var random = new Random(seed);
        var sizes = Enumerable.Range(0, Groups).Select(_ => fixedSizes.Concat(Enumerable.Range(0, KeyClusters - fixedSizes.Length).Select(_ => random.Next(1, 121)))
            .OrderBy(_ => random.Next()).ToArray()).ToArray();
        int tokens = sizes.Max(s => s.Sum());
        // Every head holds the same number of rows: the last non-empty cluster of a shorter head takes the rest.
        for (int g = 0; g < Groups; g++)
        {
            int last = Array.FindLastIndex(sizes[g], s => s > 0);
            sizes[g][last] += tokens - sizes[g].Sum();
        }
        var keyLabels = stack(sizes.Select(s => ShuffledLabels(s, random)).ToArray()).to(device);
        var (k, v) = ClusteredKeysAndValues(keyLabels, KeyClusters, dim, dtype, generator, device);
        using var backend = new CudaBackend();
        using var layout = backend.Layout(keyLabels, KeyClusters);
        using var memberMeans = ClusterMeans.Of(k, k, v, keyLabels, keyLabels, KeyClusters, KeyClusters);
        var querySizes = randint(1, 200, [Groups, QueryClusters], generator: generator).to(device);
        querySizes[0][5].fill_(0);
        var queryMeans = (randn([Groups, QueryClusters, dim], generator: generator) * 1.5).to(device);
        // The kernels' operands: the query and key means in the element type; the mean values stay float32.
        using var means = new ClusterMeans(queryMeans.to(dtype).to(ScalarType.Float32), querySizes, memberMeans.KeyMeans.to(dtype).to(ScalarType.Float32),
            memberMeans.ValueMeans.alias(), memberMeans.KeySizes.alias());
        var reference = CompensationErrorProbe.Estimate(k, v, layout, means, sampledKeysPerCluster, normalisation);
        using var sample = sampledKeysPerCluster is { } perCluster ? ProbeKeySample.Of(layout.Offsets, KeyClusters, perCluster) : null;

        var library = KernelLibrary.For(CudaDevice.Get(device.index), dtype, dim);
        (Tensor SquaredError, Tensor SquaredOutput) Probe(RoutingProbeVariant walk)
        {
            var squaredError = full([Groups, QueryClusters, KeyClusters], double.NaN, ScalarType.Float64, device);
            var squaredOutput = full([Groups, QueryClusters], double.NaN, ScalarType.Float32, device);
            RoutingProbeKernels.Enqueue(library, k, v, layout.Permutation, layout.Offsets, means.QueryMeans.to(dtype), means.KeyMeans.to(dtype),
                means.ValueMeans, 1.0 / Math.Sqrt(dim), squaredError, squaredOutput, IntPtr.Zero, walk, sample: sample, normalisation: normalisation);
            return (squaredError, squaredOutput);
        }
        double Gap((Tensor SquaredError, Tensor SquaredOutput) a, (Tensor SquaredError, Tensor SquaredOutput) b) =>
            Math.Max(RelativeGap(a.SquaredError, b.SquaredError), RelativeGap(a.SquaredOutput.to(ScalarType.Float64), b.SquaredOutput.to(ScalarType.Float64)));
        var probe = Probe(variant);
        var (squaredError, squaredOutput) = probe;
        // A sample's walk is the same for every variant of the same splits: the unsampled twins say nothing about it.
        var twin = sample is not null ? [] : Enum.GetValues<RoutingProbeVariant>().Where(other => other != variant && RoutingProbeKernels.SameArithmetic(other, variant)).ToList();
        double variantGap = twin.Count == 0 ? 0 : twin.Max(other => Gap(Probe(other), probe));
        var defaultVariant = RoutingProbeKernels.DefaultVariant;
        string comparison = twin.Count > 0
            ? $"vs {string.Join(", ", twin.Select(RoutingProbeKernels.SettingName))} (same arithmetic) {variantGap:E1}"
            : sample is not null ? $"sample of {sample.PerCluster} keys a cluster"
            : variant == defaultVariant ? "no variant of the same arithmetic"
            : $"vs {RoutingProbeKernels.SettingName(defaultVariant)} (other arithmetic, not bounded) {Gap(Probe(defaultVariant), probe):E1}";
        long unwritten = squaredError.isfinite().logical_not().sum().item<long>() + squaredOutput.isfinite().logical_not().sum().item<long>();
        var empty = (means.KeySizes == 0).unsqueeze(1).expand_as(squaredError);
        long nonZeroEmpty = (squaredError.masked_select(empty) != 0).sum().item<long>();
        var scores = CompensationErrorProbe.Scores(squaredError, squaredOutput, means.QuerySizes, means.KeySizes, k.shape[1]);
        // The backend runs the default variant, so only its scores must be these: sweep 2 normalises them itself, one
        // float64 rounding apart.
        double backendGap = variant == defaultVariant
            ? RelativeGap(backend.EstimateCompensationError(k, v, layout, means, sampledKeysPerCluster, normalisation), scores)
            : 0;

        var (worst, compared, above) = WorstRelativeError(scores, reference);
        double overlap = SelectionAgreement(scores, reference, means.QuerySizes, means.KeySizes, out double density);
        bool passed = unwritten == 0 && nonZeroEmpty == 0 && worst <= ScoreTolerance && overlap >= SelectionOverlap && backendGap <= BackendScoreTolerance
            && variantGap <= VariantTolerance;
        return (passed, $"{compared} blocks above {MattersBelowMax:E0} of their head's max: worst rel. error {worst:E2} ({above} above {ScoreTolerance:E0}); selections at {density:P1} " +
                        $"overlap {overlap:P2}; {unwritten} unwritten, {nonZeroEmpty} non-zero empty-cluster errors; backend vs kernels {backendGap:E1}; " +
                        $"{RoutingProbeKernels.SettingName(variant)} {comparison}; {normalisation.ToString().ToLowerInvariant()} normaliser");
    }

    /// <summary>The largest |a - b| / |b| over elements where b is not 0 (NaN where either is not finite), 0 where b is 0 and a is too.</summary>
    static double RelativeGap(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var gap = (a - b).abs() / b.abs();
        var bothZero = (a == 0) & (b == 0);
        return gap.masked_fill(bothZero, 0).max().item<double>();
    }

    /// <summary>
    /// The default svg2-ear (per-row compensation, error-aware routing, a target density) through the
    /// fused pipeline against the same options staged (a quality probe forces the staged path, with the
    /// fused call's threshold): the blocks mostly and the outputs agree; and the fused blocks against the
    /// float64 reference probe over the fused call's own clusters and means (its centroids, the mean values
    /// in the element type) at the same threshold. With <paramref name="probeKeys"/> every probe walks that key sample;
    /// every probe takes <paramref name="normalisation"/>.
    /// </summary>
    public static (bool Passed, string Detail) FusedMatchesStagedAndReference(Device device, int seed, int? probeKeys = null,
        ProbeNormalisation normalisation = ProbeNormalisation.Exact)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Tokens = 3000;
        var (q, k, v) = FusedOperatorConformance.ClusteredQkv(Tokens, generator, device);
        var options = MethodCatalog.OptionsFor(MethodCatalog.Svg2Ear, new Svg2Options
        {
            QueryClusters = 32, KeyClusters = 128, MinKeyClusterRatio = 0.05, InitIterations = 10, StepIterations = 2, ScaleClusterCounts = false,
            TargetDensity = 0.2, ProbeKeysPerCluster = probeKeys, ProbeNormalisation = normalisation,
        });
        using var backend = new CudaBackend();
        var fusedAttention = new Svg2Attention(options, backend);
        using var state = new Svg2LayerState();
        using var stagedState = new Svg2LayerState();
        var (qg, kg, vg) = (AttentionInputs.Flatten(q), AttentionInputs.Flatten(k), AttentionInputs.Flatten(v));
        // The minimum per query cluster a target density sets (the staged and reference selections take it too).
        double floorRatio = TargetDensityFloor.MinimumRatio(options.MinKeyClusterRatio, options.TargetDensity!.Value);
        bool passed = fusedAttention.FallbackReason is null;
        var details = new List<string>();
        foreach (var call in new[] { "cold", "warm" })
        {
            using var fused = fusedAttention.Forward(q, k, v, state);
            double threshold = fused.ErrorThreshold ?? double.NaN;
            var staged = new Svg2Attention(options with { TargetDensity = null, ErrorThreshold = threshold, MinKeyClusterRatio = floorRatio }, backend);
            using var stagedResult = staged.Forward(q, k, v, stagedState, qualityProbe: new QualityProbe(64, options.Seed));
            var sparsity = fused.Sparsity;
            double stagedOverlap = Overlap(sparsity.BlockMask, stagedResult.Sparsity.BlockMask);
            double outputGap = ReferenceComputations.RelativeError(fused.Output, stagedResult.Output);
            using var keyLayout = ClusterPermutation.FromLabels(sparsity.KeyLabels, fused.KeyClusters);
            // The means the fused call used: its centroids (the state adopted them) and the mean values in the element type.
            using var memberMeans = ClusterMeans.Of(qg, kg, vg, sparsity.QueryLabels, sparsity.KeyLabels, fused.QueryClusters, fused.KeyClusters);
            using var means = new ClusterMeans(state.QueryCentroids!.to(ScalarType.Float32), memberMeans.QuerySizes.alias(), state.KeyCentroids!.to(ScalarType.Float32),
                memberMeans.ValueMeans.to(vg.dtype).to(ScalarType.Float32), memberMeans.KeySizes.alias());
            var referenceScores = CompensationErrorProbe.Estimate(kg, vg, keyLayout, means, probeKeys, normalisation);
            var referenceMask = ErrorAwareSelection.Select(referenceScores, new ErrorRoutingRule(threshold, floorRatio));
            double referenceOverlap = Overlap(sparsity.BlockMask, referenceMask);
            bool finite = fused.Output.isfinite().all().item<bool>();
            passed &= finite && double.IsFinite(threshold) && double.IsNaN(fused.TopP) && stagedOverlap >= StagedSelectionOverlap && referenceOverlap >= SelectionOverlap
                      && outputGap <= CudaConformance.HalfPrecisionTolerance;
            details.Add($"{call}: λ {threshold:E2} at density {fused.DensityPerHead().Average():P1}; blocks vs staged {stagedOverlap:P2}, vs reference routing {referenceOverlap:P2}; " +
                        $"output vs staged {outputGap:E2}{(finite ? "" : "; non-finite output")}");
        }
        bool fusedRun = backend.PipelineFor(FusedShape.Of(qg, options.QueryClusters, options.KeyClusters, null)).Compensates(options.Compensation);
        passed &= backend.CachedPipelines == 1;
        return (passed, string.Join("; ", details) + $"; {(fusedRun ? "fused" : "staged (per row fuses with the Hopper kernels)")}");
    }

    /// <summary>Labels of a head holding <paramref name="sizes"/>[b] rows of cluster b, in random order.</summary>
    static Tensor ShuffledLabels(int[] sizes, Random random) =>
        tensor(sizes.SelectMany((size, cluster) => Enumerable.Repeat((long)cluster, size)).OrderBy(_ => random.Next()).ToArray());

    /// <summary>Keys and values around a random centre per cluster (keys spread 0.3, values 0.5), in <paramref name="dtype"/>.</summary>
    static (Tensor K, Tensor V) ClusteredKeysAndValues(Tensor labels, int clusters, int dim, ScalarType dtype, Generator generator, Device device)
    {
        long groups = labels.shape[0], tokens = labels.shape[1];
        Tensor Around(double spread)
        {
            var centres = randn([groups, clusters, dim], generator: generator).to(device);
            var noise = (randn([groups, tokens, dim], generator: generator) * spread).to(device);
            return (centres.gather(1, labels.unsqueeze(-1).expand(-1, -1, dim)) + noise).to(dtype);
        }
        return (Around(0.3), Around(0.5));
    }

    /// <summary>The largest relative error of <paramref name="actual"/> over the blocks whose reference score is at least <see cref="MattersBelowMax"/> of its head's largest.</summary>
    static (double Worst, long Compared, long Above) WorstRelativeError(Tensor actual, Tensor reference)
    {
        var headMax = reference.amax([1, 2], keepdim: true);
        var matters = reference >= headMax * MattersBelowMax;
        var relative = ((actual - reference).abs() / reference.clamp_min(1e-300)).masked_select(matters);
        if (relative.numel() == 0) return (double.PositiveInfinity, 0, 0);
        return (relative.max().item<double>(), relative.numel(), (relative > ScoreTolerance).sum().item<long>());
    }

    /// <summary>
    /// The overlap of the selections both scores make at the rule that gives the reference <see cref="Budget"/>
    /// density (no minimum per query cluster): the level -log10 λ found by bisection.
    /// </summary>
    static double SelectionAgreement(Tensor scores, Tensor reference, Tensor querySizes, Tensor keySizes, out double density)
    {
        var weights = (querySizes.to(ScalarType.Float64).unsqueeze(-1) * keySizes.to(ScalarType.Float64).unsqueeze(1));
        weights /= weights.sum([1, 2], keepdim: true);
        double DensityOf(Tensor mask) => (mask.to(ScalarType.Float64) * weights).sum([1, 2]).mean().item<double>();
        var (low, high) = ErrorRoutingRule.LevelRange;
        var probe = DensityBisection.Bisect(level => DensityOf(ErrorAwareSelection.Select(reference, new ErrorRoutingRule(ErrorRoutingRule.ThresholdAt(level), 0))),
            low, high, Budget);
        var rule = new ErrorRoutingRule(ErrorRoutingRule.ThresholdAt(probe.Parameter), 0);
        density = probe.Density;
        return Overlap(ErrorAwareSelection.Select(scores, rule), ErrorAwareSelection.Select(reference, rule));
    }

    /// <summary>Selected blocks in common over selected blocks in either (1 when neither selects any).</summary>
    static double Overlap(Tensor a, Tensor b)
    {
        double union = (a | b).sum().item<long>();
        return union == 0 ? 1 : (a & b).sum().item<long>() / union;
    }
}
