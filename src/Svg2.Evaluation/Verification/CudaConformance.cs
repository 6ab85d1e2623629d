using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// Checks of every CUDA kernel against float32 references on fresh random inputs: used by the
/// skippable GPU tests and by <c>svg2 verify --device cuda</c> (which runs where no SDK exists).
/// Outputs are filled with NaN before each run and every element is checked.
/// </summary>
public static class CudaConformance
{
    /// <summary>bf16/fp16 tolerance on relative Frobenius error against float32.</summary>
    public const double HalfPrecisionTolerance = 1e-2;

    /// <summary>Runs every check on CUDA device <paramref name="ordinal"/>; a failed check never stops the others.</summary>
    public static IReadOnlyList<ConformanceResult> RunAll(int ordinal = 0, int seed = 2026)
    {
        if (!CudaToolchain.IsAvailable(out var missing))
            return [new ConformanceResult($"{new CudaBackend().Name} backend available", false, missing ?? "no CUDA device")];
        var device = torch.device(DeviceType.CUDA, ordinal);
        var results = new List<ConformanceResult> { Run("NVRTC compiles every kernel (bf16/fp16 x D 64/128)", () => CompileAll(ordinal)) };
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
            foreach (var dim in new[] { 64, 128 })
            {
                var tag = $"{(dtype == ScalarType.BFloat16 ? "bf16" : "fp16")} D{dim}";
                results.Add(Run($"counting sort = stable sort ({tag})", () => CountingSortMatches(device, dtype, dim, seed)));
                results.Add(Run($"k-means step vs float32 Lloyd ({tag})", () => KMeansMatches(device, dtype, dim, seed + 1, ManyClusters)));
                results.Add(Run($"k-means step vs float32 Lloyd, large clusters ({tag})", () => KMeansMatches(device, dtype, dim, seed + 8, FewClusters)));
                results.Add(Run($"k-means step vs float32 Lloyd, last centroid tiles of {string.Join(", ", TailClusterCounts.Select(c => c % 128))} ({tag})",
                    () => KMeansTailsMatch(device, dtype, dim, seed + 16)));
                results.Add(Run($"sparse attention vs masked float32, small clusters ({tag})", () => SparseAttentionMatches(device, dtype, dim, seed + 2, SmallQueryClusters)));
                results.Add(Run($"sparse attention vs masked float32, clusters of several tiles ({tag})", () => SparseAttentionMatches(device, dtype, dim, seed + 7, LargeQueryClusters)));
                results.Add(Run($"sparse attention with pair tiles vs masked float32, pairs = greedy rule ({tag})", () => TailPairConformance.PairTilesMatch(device, dtype, dim, seed + 14)));
            }
        foreach (var dim in new[] { 64, 128 })
            results.Add(Run($"FP8 sparse attention with pair tiles vs FP8 reference (bf16 D{dim})", () => TailPairConformance.Fp8PairTilesMatch(device, dim, seed + 15)));
        results.Add(Run("selection vs float32 reference (Float32 mode)", () => SelectionMatches(device, seed + 3, 0.9, 0.1, 0.5, 150)));
        // A sharp row cuts after few clusters (few candidates); a fixed-density top-p near 1 with no
        // minimum reaches into the light tail (most keys are candidates); head dimension 64 and key
        // counts that are not a power of two take the other tile and padding paths.
        results.Add(Run("selection vs float32 reference, sharp rows (Float32 mode)", () => SelectionMatches(device, seed + 11, 0.9, 0.0, 2.0, 150, keyClusters: 777)));
        results.Add(Run("selection vs float32 reference, top_p 0.997 (Float32 mode, D64)", () => SelectionMatches(device, seed + 12, 0.997, 0.0, 1.0, 40, dim: 64)));
        results.Add(Run("selection invariants (BFloat16Emulated mode)", () => SelectionInvariantsBf16(device, seed + 4)));
        results.Add(Run("all-true mask = dense SDPA (bf16 D128)", () => AllTrueMaskEqualsDense(device, seed + 5)));
        results.Add(Run("planner's density and floor share = TorchSharp reductions, bit for bit", () => PlanStatisticsMatch(device, seed + 13)));
        results.Add(Run("steady-state call captured in a CUDA graph replays bit-exactly", () => GraphCaptureReplays(device, seed + 6)));
        results.AddRange(DeterminismConformance.RunAll(device, seed + 40));
        results.AddRange(NonFiniteConformance.RunAll(device, seed + 50));
        results.Add(Run("video + text call: text outside clustering and top-p, as two blocks", () => PipelineWithTextMatchesOperator(device, seed + 9)));
        results.AddRange(TransformerBlockConformance.RunAll(device, seed + 10));
        results.Add(Run("bad inputs rejected with clear errors", () => BadInputsRejected(device)));
        results.AddRange(FusedOperatorConformance.RunAll(device, seed + 10));
        results.AddRange(CompensationConformance.RunAll(device, seed + 20));
        results.AddRange(RoutingProbeConformance.RunAll(device, seed + 30));
        results.AddRange(Fp8KMeansConformance.RunAll(device, seed + 60));
        results.AddRange(Fp8AttentionConformance.RunAll(device, seed + 70));
        return results;
    }

    /// <summary>Runs one check; an exception becomes a failed result carrying its type and message.</summary>
    public static ConformanceResult Run(string check, Func<(bool Passed, string Detail)> body)
    {
        try
        {
            var (passed, detail) = body();
            return new ConformanceResult(check, passed, detail);
        }
        catch (Exception e)
        {
            return new ConformanceResult(check, false, $"{e.GetType().Name}: {e.Message}");
        }
    }

    static (bool, string) CompileAll(int ordinal)
    {
        var device = CudaDevice.Get(ordinal);
        KernelLibrary? library = null;
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
            foreach (var dim in new[] { 64, 128 })
                library = KernelLibrary.For(device, dtype, dim);
        return (true, $"{device.Name}, {device.Architecture}, {library!.Family.ToString().ToLowerInvariant()} kernels, NVRTC {KernelCompiler.NvrtcVersion.Major}.{KernelCompiler.NvrtcVersion.Minor}, driver {CudaDevice.DriverVersion}");
    }

    /// <summary>The counting sort gives the same permutation as a stable argsort, and sizes/offsets match.</summary>
    public static (bool Passed, string Detail) CountingSortMatches(Device device, ScalarType dtype, int dim, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, Tokens = 5000, Clusters = 300;
        var labels = ReferenceComputations.LabelsWithEmptyClusters(Groups, Tokens, Clusters, 0.7, generator).to(device);
        var library = KernelLibrary.For(CudaDevice.Get(device.index), dtype, dim);
        var sizes = full([Groups, Clusters], -1L, ScalarType.Int64, device);
        var offsets = full([Groups, Clusters + 1], -1L, ScalarType.Int64, device);
        var permutation = full([Groups, Tokens], -1L, ScalarType.Int64, device);
        CountingSort.Enqueue(library, labels, Clusters, CountingSort.AllocateCounts(Groups, Tokens, Clusters, device), sizes, offsets, permutation, IntPtr.Zero);
        var (_, expected) = labels.sort(1, descending: false, stable: true);
        var expectedSizes = zeros([Groups, Clusters], ScalarType.Int64, device).scatter_add_(1, labels, ones_like(labels));
        var expectedOffsets = cat([zeros([Groups, 1], ScalarType.Int64, device), expectedSizes.cumsum(1)], 1);
        long permutationMismatches = (permutation != expected).sum().item<long>();
        long sizeMismatches = (sizes != expectedSizes).sum().item<long>();
        long offsetMismatches = (offsets != expectedOffsets).sum().item<long>();
        long empty = (expectedSizes == 0).sum().item<long>();
        bool passed = permutationMismatches == 0 && sizeMismatches == 0 && offsetMismatches == 0;
        return (passed, $"{permutationMismatches} permutation, {sizeMismatches} size, {offsetMismatches} offset mismatches; {empty} empty clusters");
    }

    /// <summary>
    /// Two k-means iterations from <paramref name="clusters"/> centroids over 3000 points, with
    /// duplicates (so some clusters empty): labels are the float32 argmin except near-ties, sizes
    /// count the labels, centroids are member means, empty clusters keep their centroid.
    /// </summary>
    public static (bool Passed, string Detail) KMeansMatches(Device device, ScalarType dtype, int dim, int seed, int clusters)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, Tokens = 3000;
        int duplicates = Math.Min(10, clusters / 4);
        var points = randn([Groups, Tokens, dim], generator: generator).to(dtype).to(device);
        var pick = randint(0, Tokens, [Groups, clusters], generator: generator).to(device);
        pick.narrow(1, clusters - duplicates, duplicates).copy_(pick.narrow(1, 0, duplicates));
        var initial = points.gather(1, pick.unsqueeze(-1).expand(-1, -1, dim)).contiguous();

        var backend = new CudaBackend();
        var afterOne = backend.KMeans(points, initial, 1);
        var result = backend.KMeans(points, initial, 2);

        // The second assignment ran against the centroids of the first update.
        var distances = ReferenceComputations.CentroidDistances(points, afterOne.Centroids);
        var best = distances.amin([-1]);
        var chosen = distances.gather(2, result.Labels.unsqueeze(-1)).squeeze(-1);
        var gap = chosen - best;
        var tolerance = 1e-5 * distances.abs().amax([-1]) + 1e-6;
        long wrong = (gap > tolerance).sum().item<long>();
        long differing = (result.Labels != distances.argmin(-1)).sum().item<long>();

        var (means, sizes) = KMeans.Update(points.to(ScalarType.Float32), result.Labels, afterOne.Centroids);
        long sizeMismatches = (sizes != result.Sizes).sum().item<long>();
        double centroidError = ReferenceComputations.RelativeError(result.Centroids, means);
        var empty = (sizes == 0).unsqueeze(-1).expand_as(means);
        long emptyCount = (sizes == 0).sum().item<long>();
        long emptyChanged = (result.Centroids.masked_select(empty) != afterOne.Centroids.masked_select(empty)).sum().item<long>();
        long nonFinite = result.Centroids.isfinite().logical_not().sum().item<long>();
        long total = sizes.sum().item<long>();
        bool passed = wrong == 0 && sizeMismatches == 0 && centroidError <= HalfPrecisionTolerance && emptyChanged == 0 && nonFinite == 0 && total == Groups * Tokens;
        return (passed, $"labels: {wrong} not nearest, {differing} differ from argmin (near-ties allowed); sizes mismatches {sizeMismatches}; " +
                        $"centroid rel. error {centroidError:E2}; {emptyCount} empty clusters, {emptyChanged} changed elements");
    }

    /// <summary>
    /// Selection in Float32 mode gives the reference mask except rows whose cut sits on a near-tie, for a
    /// rule (<paramref name="topP"/>, <paramref name="minimumRatio"/>) on centroids of spread
    /// <paramref name="centroidScale"/> and key clusters of up to <paramref name="maxKeySize"/> members
    /// (the first 50 empty).
    /// </summary>
    public static (bool Passed, string Detail) SelectionMatches(Device device, int seed, double topP, double minimumRatio, double centroidScale, int maxKeySize,
        int keyClusters = 1000, int dim = 128)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 4, QueryClusters = 100;
        var queryCentroids = (randn([Groups, QueryClusters, dim], generator: generator) * centroidScale).to(ScalarType.BFloat16).to(device);
        var keyCentroids = (randn([Groups, keyClusters, dim], generator: generator) * centroidScale).to(ScalarType.BFloat16).to(device);
        var keySizes = randint(0, maxKeySize, [Groups, keyClusters], generator: generator).to(device);
        keySizes.narrow(1, 0, 50).zero_();
        var rule = new SelectionRule(topP, minimumRatio, SelectionPrecision.Float32);
        var mask = new CudaBackend().SelectKeyClusters(queryCentroids, keyCentroids, keySizes, rule);
        var expected = CriticalClusterSelection.Select(queryCentroids, keyCentroids, keySizes, rule);
        var (sorted, _) = CriticalClusterSelection.Probabilities(queryCentroids, keyCentroids, keySizes).sort(-1, descending: true, stable: true);
        var rowsDiffering = (mask != expected).any(-1);
        long differing = rowsDiffering.sum().item<long>();
        long kept = mask.sum().item<long>(), expectedKept = expected.sum().item<long>();
        // Near-ties: a differing row must have its cumulative mass within 1e-4 of top_p at the cut.
        var before = sorted.cumsum(-1) - sorted;
        var nearCut = ((before - rule.TopP).abs() < 1e-4).any(-1);
        long unexplained = (rowsDiffering & nearCut.logical_not()).sum().item<long>();
        bool passed = unexplained == 0 && mask.any(-1).all().item<bool>();
        long fewest = mask.sum(-1).min().item<long>(), most = mask.sum(-1).max().item<long>();
        return (passed, $"{differing} of {Groups * QueryClusters} rows differ ({unexplained} not at a near-tie); kept {kept} vs {expectedKept} " +
                        $"({fewest} to {most} of {keyClusters} a row)");
    }

    /// <summary>
    /// The bf16-emulated mode keeps the first cluster and at least floor(r x KC) clusters per row, and
    /// agrees with the library's bf16-emulated reference except rows where float32 summation order
    /// flips a bf16 rounding (at most 5% of rows).
    /// </summary>
    public static (bool Passed, string Detail) SelectionInvariantsBf16(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 2, QueryClusters = 64, KeyClusters = 500, Dim = 128;
        const double MaxDifferingRowShare = 0.05;
        // Spread-out scores put the top-p cut inside most rows.
        const double CentroidScale = 1.7;
        var queryCentroids = (randn([Groups, QueryClusters, Dim], generator: generator) * CentroidScale).to(ScalarType.BFloat16).to(device);
        var keyCentroids = (randn([Groups, KeyClusters, Dim], generator: generator) * CentroidScale).to(ScalarType.BFloat16).to(device);
        var keySizes = randint(1, 100, [Groups, KeyClusters], generator: generator).to(device);
        var rule = new SelectionRule(0.9, 0.02, SelectionPrecision.BFloat16Emulated);
        var mask = new CudaBackend().SelectKeyClusters(queryCentroids, keyCentroids, keySizes, rule);
        long minimum = mask.sum(-1).min().item<long>(), maximum = mask.sum(-1).max().item<long>();
        var (_, first) = CriticalClusterSelection.Probabilities(queryCentroids, keyCentroids, keySizes).max(-1);
        bool firstKept = mask.gather(2, first.unsqueeze(-1)).all().item<bool>();
        var expected = CriticalClusterSelection.Select(queryCentroids, keyCentroids, keySizes, rule);
        long differing = (mask != expected).any(-1).sum().item<long>();
        // Some rows still keep everything: once the bf16 running sum's half-ulp exceeds the remaining
        // probabilities it stops growing below top_p (the reference behaves the same way).
        bool cutExercised = minimum < KeyClusters;
        bool passed = minimum >= rule.MinimumKept(KeyClusters) && cutExercised && firstKept && differing <= MaxDifferingRowShare * Groups * QueryClusters;
        return (passed, $"kept per row {minimum} to {maximum} of {KeyClusters} (minimum {rule.MinimumKept(KeyClusters)}), most probable cluster always kept: {firstKept}; " +
                        $"{differing} of {Groups * QueryClusters} rows differ from the bf16-emulated reference");
    }

    const int SmallQueryClusters = 40;
    // k-means checks over 3000 points: 150 clusters (20 members on average) and 16 (about 190, where
    // the segment means use their wide kernel).
    const int ManyClusters = 150;
    const int FewClusters = 16;
    const int LargeQueryClusters = 6;

    /// <summary>Cluster counts whose last 128-centroid tile holds 72, 92 and 104 centroids: the Hopper assignment's 80-, 96- and 112-column tails.</summary>
    static readonly int[] TailClusterCounts = [200, 220, 1000];

    /// <summary><see cref="KMeansMatches"/> at each of <see cref="TailClusterCounts"/>; passes when every one does.</summary>
    static (bool Passed, string Detail) KMeansTailsMatch(Device device, ScalarType dtype, int dim, int seed)
    {
        var results = TailClusterCounts.Select((clusters, i) => (Clusters: clusters, Result: KMeansMatches(device, dtype, dim, seed + i, clusters))).ToList();
        return (results.All(r => r.Result.Passed), string.Join("; ", results.Select(r => $"{r.Clusters} clusters: {r.Result.Detail}")));
    }

    /// <summary>Sparse attention on random partitions with empty clusters and a random mask (some rows empty) against masked float32 attention.</summary>
    /// <param name="device">CUDA device.</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="dim">Head dimension.</param>
    /// <param name="seed">Seed of the inputs.</param>
    /// <param name="queryClusters">Query clusters over 1500 tokens: many (clusters smaller than a tile) or few (clusters of several tiles with a partial one).</param>
    public static (bool Passed, string Detail) SparseAttentionMatches(Device device, ScalarType dtype, int dim, int seed, int queryClusters)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 2, QueryTokens = 1500, KeyTokens = 1700, KeyClusters = 90;
        var q = randn([Groups, QueryTokens, dim], generator: generator).to(dtype).to(device);
        var k = randn([Groups, KeyTokens, dim], generator: generator).to(dtype).to(device);
        var v = randn([Groups, KeyTokens, dim], generator: generator).to(dtype).to(device);
        var queryLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, QueryTokens, queryClusters, 0.8, generator).to(device);
        var keyLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, KeyTokens, KeyClusters, 0.8, generator).to(device);
        var mask = (rand([Groups, queryClusters, KeyClusters], generator: generator) < 0.3).to(device);
        mask.select(1, 0).zero_();   // one query cluster selects nothing: its rows must be 0
        var backend = new CudaBackend();
        using var queryLayout = backend.Layout(queryLabels, queryClusters);
        using var keyLayout = backend.Layout(keyLabels, KeyClusters);
        double scale = 1.0 / Math.Sqrt(dim);
        var library = KernelLibrary.For(CudaDevice.Get(device.index), dtype, dim);
        var output = full_like(q, double.NaN);
        using var workspace = new AttentionWorkspace(Groups, queryClusters, KeyClusters, device);
        SparseAttentionKernels.EnqueuePlan(library, queryLayout, keyLayout, mask, workspace, IntPtr.Zero);
        SparseAttentionKernels.EnqueueAttention(library, q, k, v, output, queryLayout, keyLayout, workspace, scale, IntPtr.Zero);
        var expected = ReferenceComputations.MaskedAttention(q, k, v, queryLabels, keyLabels, mask, scale);
        long nonFinite = output.isfinite().logical_not().sum().item<long>();
        double error = ReferenceComputations.RelativeError(output, expected);
        var emptyRows = (queryLabels == 0).unsqueeze(-1).expand_as(output);
        long nonZeroEmpty = (output.masked_select(emptyRows) != 0).sum().item<long>();
        bool passed = nonFinite == 0 && error <= HalfPrecisionTolerance && nonZeroEmpty == 0;
        return (passed, $"rel. error {error:E2}; {nonFinite} NaN/Inf elements left; {nonZeroEmpty} non-zero elements in rows without keys");
    }

    /// <summary>
    /// The density and floor share the planner writes (<see cref="PlanStatistics"/>) over layouts with two clusters
    /// after the video ones (as text blocks follow them), empty clusters and rows at and above the floor: the density
    /// equals the layout formula the operator computed with TorchSharp and the floor share <see cref="SelectionFloor.Share"/>
    /// of the video mask, bit for bit, for a rule with a minimum and one without; the density also matches
    /// <see cref="BlockSparsity.Density"/>. The statistics are NaN before each plan.
    /// </summary>
    public static (bool Passed, string Detail) PlanStatisticsMatch(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, QueryTokens = 1500, KeyTokens = 1700, QueryClusters = 40, KeyClusters = 90, Extra = 2;
        var queryLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, QueryTokens, QueryClusters + Extra, 0.8, generator).to(device);
        var keyLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, KeyTokens, KeyClusters + Extra, 0.8, generator).to(device);
        // Rows keep from none to about a third of the key clusters, so some are at the floor and some above it.
        var rowShare = rand([Groups, QueryClusters + Extra, 1], generator: generator) * 0.3;
        var mask = (rand([Groups, QueryClusters + Extra, KeyClusters + Extra], generator: generator) < rowShare).to(device);
        var backend = new CudaBackend();
        using var queryLayout = backend.Layout(queryLabels, QueryClusters + Extra);
        using var keyLayout = backend.Layout(keyLabels, KeyClusters + Extra);
        var library = KernelLibrary.For(CudaDevice.Get(device.index), ScalarType.BFloat16, 128);
        using var workspace = new AttentionWorkspace(Groups, QueryClusters + Extra, KeyClusters + Extra, device);
        var videoMask = mask.narrow(1, 0, QueryClusters).narrow(2, 0, KeyClusters);
        var patternDensity = new BlockSparsity(queryLabels, keyLabels, mask).Density();
        long differences = 0;
        double patternGap = 0;
        var shares = new List<double>();
        foreach (int minimumKept in new[] { 9, 0 })
        {
            var values = full([2, Groups], double.NaN, ScalarType.Float64, device);
            SparseAttentionKernels.EnqueuePlan(library, queryLayout, keyLayout, mask, workspace, IntPtr.Zero,
                new PlanStatistics(values, QueryClusters, KeyClusters, minimumKept));
            var computed = (queryLayout.Sizes.to(ScalarType.Float64) * workspace.SelectedKeys.to(ScalarType.Float64)).sum(1);
            var density = computed / ((double)QueryTokens * KeyTokens);
            var floorShare = SelectionFloor.Share(videoMask, minimumKept);
            differences += (values[0] != density).sum().item<long>() + (values[1] != floorShare).sum().item<long>();
            patternGap = Math.Max(patternGap, (values[0] - patternDensity).abs().max().item<double>());
            shares.Add(floorShare.mean().item<double>());
        }
        bool passed = differences == 0 && patternGap < 1e-12 && shares[0] is > 0 and < 1;
        return (passed, $"{differences} differences (NaN left counts); density vs its block pattern {patternGap:E1}; " +
                        $"mean floor share {shares[0]:P1} at minimum 9, {shares[1]:P1} at minimum 0");
    }

    /// <summary>With every block selected, the sparse path equals PyTorch's dense attention.</summary>
    public static (bool Passed, string Detail) AllTrueMaskEqualsDense(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 4, Tokens = 4096, Dim = 128, QueryClusters = 50, KeyClusters = 200;
        var (q, k, v) = ReferenceComputations.RandomQkv(Groups, Tokens, Dim, generator, device);
        var backend = new CudaBackend();
        using var queryLayout = backend.Layout(ReferenceComputations.LabelsWithEmptyClusters(Groups, Tokens, QueryClusters, 0.9, generator).to(device), QueryClusters);
        using var keyLayout = backend.Layout(ReferenceComputations.LabelsWithEmptyClusters(Groups, Tokens, KeyClusters, 0.9, generator).to(device), KeyClusters);
        var mask = ones([Groups, QueryClusters, KeyClusters], ScalarType.Bool, device);
        var output = backend.BlockSparseAttention(q, k, v, queryLayout, keyLayout, mask, 1.0 / Math.Sqrt(Dim));
        var dense = nn.functional.scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)).squeeze(0);
        var exact = nn.functional.scaled_dot_product_attention(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32));
        double error = ReferenceComputations.RelativeError(output, exact);
        double denseError = ReferenceComputations.RelativeError(dense, exact);
        long nonFinite = output.isfinite().logical_not().sum().item<long>();
        bool passed = nonFinite == 0 && error <= HalfPrecisionTolerance;
        return (passed, $"rel. error vs float32 {error:E2} (PyTorch bf16 SDPA: {denseError:E2}); vs bf16 SDPA {ReferenceComputations.RelativeError(output, dense):E2}");
    }

    /// <summary>
    /// The CUDA backend's whole steady-state kernel sequence (k-means on q and k, selection, plan,
    /// attention) captured on a created stream into a CUDA graph; replayed from the same centroids it
    /// must reproduce the eager run bit for bit. The TorchSharp input preparation is not in the graph.
    /// </summary>
    public static (bool Passed, string Detail) GraphCaptureReplays(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 4, Tokens = 8192, Dim = 128, QueryClusters = 64, KeyClusters = 256;
        var (q, k, v) = ReferenceComputations.RandomQkv(Groups, Tokens, Dim, generator, device);
        var (queryStart, keyStart, queryCentroids, keyCentroids) = FirstRowsAsCentroids(q, k, QueryClusters, KeyClusters);
        var rule = new SelectionRule(0.9, 0.1);
        using var pipeline = new CudaSvg2Pipeline(Groups, Tokens, Tokens, Dim, QueryClusters, KeyClusters, ScalarType.BFloat16, device);
        pipeline.Output.fill_(double.NaN);
        pipeline.Enqueue(q, k, v, queryCentroids, keyCentroids, 2, rule);
        var eager = pipeline.Output.clone();
        var eagerMask = pipeline.BlockMask.clone();
        var eagerCentroids = keyCentroids.clone();

        queryCentroids.copy_(queryStart);
        keyCentroids.copy_(keyStart);
        pipeline.Output.fill_(double.NaN);
        pipeline.Device.Synchronize();
        using var graph = new CudaGraphCapture(pipeline.Device, stream => pipeline.Enqueue(q, k, v, queryCentroids, keyCentroids, 2, rule, stream));
        graph.LaunchAndWait();
        long outputDiffs = (pipeline.Output.to(ScalarType.Float32) != eager.to(ScalarType.Float32)).sum().item<long>();
        long maskDiffs = (pipeline.BlockMask != eagerMask).sum().item<long>();
        long centroidDiffs = (keyCentroids.to(ScalarType.Float32) != eagerCentroids.to(ScalarType.Float32)).sum().item<long>();
        long nonFinite = eager.isfinite().logical_not().sum().item<long>();
        bool passed = outputDiffs == 0 && maskDiffs == 0 && centroidDiffs == 0 && nonFinite == 0;
        return (passed, $"graph replay vs eager: {outputDiffs} output, {maskDiffs} mask, {centroidDiffs} centroid differences; {nonFinite} NaN in eager output; density {pipeline.Density().mean().item<double>():P1}");
    }

    /// <summary>
    /// The fused pipeline on a joint video-text call (video rows, then a prompt and its padding), against
    /// the operator's stages on the video rows alone: k-means through the group stride gives the
    /// centroids and labels of k-means on a contiguous copy of the video rows bit for bit, also through
    /// the backend's own entry point; the layouts and the mask are the video ones with
    /// <see cref="TextBlocks"/> appended; the output, text rows included, matches a masked float32
    /// attention; the density is the block pattern's.
    /// </summary>
    public static (bool Passed, string Detail) PipelineWithTextMatchesOperator(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, VideoTokens = 3000, Dim = 128, QueryClusters = 24, KeyClusters = 96, Iterations = 2;
        var text = new TextTokens(256, 96);
        int tokens = VideoTokens + text.Count;
        var (q, k, v) = ReferenceComputations.RandomQkv(Groups, tokens, Dim, generator, device);
        var (queryStart, keyStart, queryCentroids, keyCentroids) = FirstRowsAsCentroids(q, k, QueryClusters, KeyClusters);
        var rule = new SelectionRule(0.9, 0.1);
        using var pipeline = new CudaSvg2Pipeline(Groups, tokens, tokens, Dim, QueryClusters, KeyClusters, ScalarType.BFloat16, device, text);
        pipeline.Output.fill_(double.NaN);
        pipeline.Enqueue(q, k, v, queryCentroids, keyCentroids, Iterations, rule);

        var backend = new CudaBackend();
        var query = backend.KMeans(q.narrow(1, 0, VideoTokens).contiguous(), queryStart, Iterations);
        var key = backend.KMeans(k.narrow(1, 0, VideoTokens).contiguous(), keyStart, Iterations);
        var keyInPlace = backend.KMeans(k.narrow(1, 0, VideoTokens), keyStart, Iterations);
        var videoMask = backend.SelectKeyClusters(query.Centroids, key.Centroids, key.Sizes, rule);
        var expected = TextBlocks.Append(query.Labels, key.Labels, videoMask, QueryClusters, KeyClusters, text);
        var queryLayout = backend.Layout(expected.QueryLabels, QueryClusters + TextBlocks.Count);
        var keyLayout = backend.Layout(expected.KeyLabels, KeyClusters + TextBlocks.Count);

        long Differences(Tensor actual, Tensor reference) => (actual.to(ScalarType.Float64) != reference.to(ScalarType.Float64)).sum().item<long>();
        long centroidDiffs = Differences(queryCentroids, query.Centroids) + Differences(keyCentroids, key.Centroids)
                             + Differences(keyInPlace.Centroids, key.Centroids) + Differences(keyInPlace.Labels, key.Labels);
        long layoutDiffs = Differences(pipeline.QueryLayout.Permutation, queryLayout.Permutation) + Differences(pipeline.QueryLayout.Sizes, queryLayout.Sizes)
                           + Differences(pipeline.QueryLayout.Offsets, queryLayout.Offsets) + Differences(pipeline.KeyLayout.Permutation, keyLayout.Permutation)
                           + Differences(pipeline.KeyLayout.Sizes, keyLayout.Sizes) + Differences(pipeline.KeyLayout.Offsets, keyLayout.Offsets);
        long maskDiffs = Differences(pipeline.BlockMask, expected.BlockMask);
        var exact = ReferenceComputations.MaskedAttention(q, k, v, expected.QueryLabels, expected.KeyLabels, expected.BlockMask, 1.0 / Math.Sqrt(Dim));
        double error = ReferenceComputations.RelativeError(pipeline.Output, exact);
        double textError = ReferenceComputations.RelativeError(pipeline.Output.narrow(1, VideoTokens, text.Count), exact.narrow(1, VideoTokens, text.Count));
        long nonFinite = pipeline.Output.isfinite().logical_not().sum().item<long>();
        double densityGap = (pipeline.Density() - expected.Density()).abs().max().item<double>();
        bool passed = centroidDiffs == 0 && layoutDiffs == 0 && maskDiffs == 0 && nonFinite == 0 && densityGap < 1e-9
                      && error <= HalfPrecisionTolerance && textError <= HalfPrecisionTolerance;
        return (passed, $"{centroidDiffs} centroid/label, {layoutDiffs} layout, {maskDiffs} mask differences; rel. error vs float32 {error:E2} " +
                        $"(text rows {textError:E2}); {nonFinite} unwritten or non-finite; density {pipeline.Density().mean().item<double>():P1} (gap {densityGap:E1})");
    }

    /// <summary>Starting centroids from the first rows of q and of k, and working copies a pipeline updates in place.</summary>
    static (Tensor QueryStart, Tensor KeyStart, Tensor Query, Tensor Key) FirstRowsAsCentroids(Tensor q, Tensor k, int queryClusters, int keyClusters)
    {
        var queryStart = q.narrow(1, 0, queryClusters).clone();
        var keyStart = k.narrow(1, 0, keyClusters).clone();
        return (queryStart, keyStart, queryStart.clone(), keyStart.clone());
    }

    /// <summary>Head dim 96, CPU tensors and non-contiguous tensors are refused with messages naming the problem.</summary>
    public static (bool Passed, string Detail) BadInputsRejected(Device device)
    {
        using var scope = NewDisposeScope();
        var backend = new CudaBackend();
        var messages = new List<string>();
        bool Rejects(Func<Tensor> call, string expected)
        {
            try { call(); return false; }
            catch (ArgumentException e) { messages.Add(e.Message); return e.Message.Contains(expected, StringComparison.OrdinalIgnoreCase); }
        }
        var odd = randn([1, 256, 96], device: device).to(ScalarType.BFloat16);
        var cpu = randn([1, 256, 128]).to(ScalarType.BFloat16);
        var strided = randn([1, 128, 256], device: device).to(ScalarType.BFloat16).transpose(1, 2);
        var centroids = randn([1, 8, 96], device: device).to(ScalarType.BFloat16);
        bool headDim = Rejects(() => backend.KMeans(odd, centroids, 1).Labels, "head dimension 96");
        bool onCpu = Rejects(() => backend.KMeans(cpu, cpu.narrow(1, 0, 8).contiguous(), 1).Labels, "CUDA");
        bool notContiguous = Rejects(() => backend.KMeans(strided, strided.narrow(1, 0, 8).contiguous(), 1).Labels, "contiguous");
        bool supports = !backend.Supports(odd, odd, odd, out var reason) && reason!.Contains("96");
        bool passed = headDim && onCpu && notContiguous && supports;
        return (passed, string.Join(" | ", messages));
    }
}
