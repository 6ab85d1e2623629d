using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Configuration;
using Svg2.Cuda;
using Svg2.Evaluation.Statistics;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// Checks of <see cref="Svg2Attention"/> over the <see cref="CudaBackend"/>'s fused pipeline (the path
/// the models, the evaluation and the benchmark run) on random clustered inputs: it agrees with the
/// staged path stage for stage and with the portable reference; layers sharing one pipeline get
/// outputs of their own; a target density is reached and its top-p reused.
/// </summary>
public static class FusedOperatorConformance
{
    const int Heads = 4, VideoTokens = 3000, Dim = 128, TrueClusters = 24;

    internal static readonly Svg2Options Options = new()
    {
        QueryClusters = 32, KeyClusters = 128, TopP = 0.9, MinKeyClusterRatio = 0.1, InitIterations = 10, StepIterations = 2, ScaleClusterCounts = false,
    };

    /// <summary>Runs every check on <paramref name="device"/>; a failed check never stops the others.</summary>
    public static IReadOnlyList<ConformanceResult> RunAll(Device device, int seed) =>
    [
        CudaConformance.Run("fused operator = staged operator, cold then warm (bf16 D128)", () => FusedMatchesStaged(device, seed, null)),
        CudaConformance.Run("fused operator = staged operator with text rows, cold then warm", () => FusedMatchesStaged(device, seed + 1, new TextTokens(128, 48))),
        CudaConformance.Run("fused operator vs reference backend", () => FusedMatchesReference(device, seed + 2)),
        CudaConformance.Run("layers sharing one fused pipeline get outputs of their own", () => SharedPipelineOutputsAreNotAliased(device, seed + 3)),
        CudaConformance.Run("target density reached by the fused operator, top-p reused", () => TargetDensityReached(device, seed + 4)),
    ];

    /// <summary>
    /// Two calls (cold, then warm) of one operator through the fused pipeline and through the staged
    /// backend stages (forced by asking for quality statistics) from equal layer states: the same
    /// labels, mask, floor share, density and stored centroids bit for bit, the same output within bf16 tolerance,
    /// and an output that is exact attention over the blocks it reports.
    /// </summary>
    public static (bool Passed, string Detail) FusedMatchesStaged(Device device, int seed, TextTokens? text)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var (q, k, v) = ClusteredQkv(VideoTokens + (text?.Count ?? 0), generator, device);
        using var backend = new CudaBackend();
        var attention = new Svg2Attention(Options, backend);
        using var fusedState = new Svg2LayerState();
        using var stagedState = new Svg2LayerState();
        bool passed = true;
        var details = new List<string>();
        foreach (var (call, iterations) in new[] { ("cold", Options.InitIterations), ("warm", Options.StepIterations) })
        {
            using var fused = attention.Forward(q, k, v, fusedState, text);
            using var staged = attention.Forward(q, k, v, stagedState, text, qualityProbe: new QualityProbe(64, Options.Seed));
            long labelDiffs = Differences(fused.Sparsity.QueryLabels, staged.Sparsity.QueryLabels) + Differences(fused.Sparsity.KeyLabels, staged.Sparsity.KeyLabels);
            long maskDiffs = Differences(fused.Sparsity.BlockMask, staged.Sparsity.BlockMask);
            long floorDiffs = Differences(fused.Sparsity.FloorShare!, staged.Sparsity.FloorShare!);
            long centroidDiffs = Differences(fusedState.QueryCentroids!, stagedState.QueryCentroids!) + Differences(fusedState.KeyCentroids!, stagedState.KeyCentroids!);
            double densityGap = (fused.Density - staged.Density).abs().max().item<double>();
            double patternGap = (fused.Density.reshape(-1) - fused.Sparsity.Density()).abs().max().item<double>();
            double outputError = ReferenceComputations.RelativeError(fused.Output, staged.Output);
            double exactError = ExactError(q, k, v, fused);
            bool shapes = fused.Output.shape.SequenceEqual(q.shape) && fused.Density.shape.SequenceEqual(new long[] { 1, Heads })
                          && fused.Density.dtype == ScalarType.Float64 && fused.Density.device_type == DeviceType.CUDA;
            bool counts = fused.KMeansIterations == iterations && staged.KMeansIterations == iterations
                          && fused.QueryClusters == staged.QueryClusters && fused.KeyClusters == staged.KeyClusters && fused.TopP == staged.TopP;
            passed &= labelDiffs == 0 && maskDiffs == 0 && floorDiffs == 0 && centroidDiffs == 0 && densityGap < 1e-12 && patternGap < 1e-9 && shapes && counts
                      && outputError <= CudaConformance.HalfPrecisionTolerance && exactError <= CudaConformance.HalfPrecisionTolerance;
            details.Add($"{call}: {labelDiffs} label, {maskDiffs} mask, {floorDiffs} floor share, {centroidDiffs} centroid differences; density gap {densityGap:E1} " +
                        $"(vs its pattern {patternGap:E1}), mean {fused.DensityPerHead().Average():P1}; output vs staged {outputError:E2}, vs float32 {exactError:E2}; " +
                        $"shapes {(shapes ? "ok" : "wrong")}, counts {(counts ? "ok" : "wrong")}");
        }
        passed &= backend.CachedPipelines == 1;
        return (passed, string.Join("; ", details) + $"; {backend.CachedPipelines} cached pipeline(s)");
    }

    /// <summary>
    /// The fused operator against the portable reference operator on the same tensors: the output is
    /// exact attention over its own blocks within bf16 tolerance, and the reference (float32 k-means,
    /// so an occasional near-tie lands elsewhere) reaches about the same density and output.
    /// </summary>
    public static (bool Passed, string Detail) FusedMatchesReference(Device device, int seed)
    {
        const double DensityRelativeGap = 0.05, OutputGap = 0.05;
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var (q, k, v) = ClusteredQkv(VideoTokens, generator, device);
        using var backend = new CudaBackend();
        using var fusedState = new Svg2LayerState();
        using var referenceState = new Svg2LayerState();
        using var fused = new Svg2Attention(Options, backend).Forward(q, k, v, fusedState);
        using var reference = new Svg2Attention(Options).Forward(q, k, v, referenceState);
        double exactError = ExactError(q, k, v, fused);
        double fusedDensity = fused.DensityPerHead().Average(), referenceDensity = reference.DensityPerHead().Average();
        double densityGap = Math.Abs(fusedDensity - referenceDensity) / referenceDensity;
        double outputError = ReferenceComputations.RelativeError(fused.Output, reference.Output);
        double labelAgreement = (fused.Sparsity.QueryLabels == reference.Sparsity.QueryLabels).to(ScalarType.Float64).mean().item<double>();
        bool passed = exactError <= CudaConformance.HalfPrecisionTolerance && densityGap <= DensityRelativeGap && outputError <= OutputGap;
        return (passed, $"output vs float32 attention over its blocks {exactError:E2}; density {fusedDensity:P2} vs reference {referenceDensity:P2} " +
                        $"(relative gap {densityGap:E1}); output vs reference operator {outputError:E2}; {labelAgreement:P1} of query labels equal");
    }

    /// <summary>
    /// Two layers (own states, one backend, so one pipeline): after the second layer's call the first
    /// layer's output, sparsity (labels, mask, floor share) and density are unchanged, cold and warm; the warm outputs are exact attention
    /// over their blocks.
    /// </summary>
    public static (bool Passed, string Detail) SharedPipelineOutputsAreNotAliased(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var first = ClusteredQkv(VideoTokens, generator, device);
        var second = ClusteredQkv(VideoTokens, generator, device);
        using var backend = new CudaBackend();
        var attention = new Svg2Attention(Options, backend);
        using var firstLayer = new Svg2LayerState();
        using var secondLayer = new Svg2LayerState();
        long changed = 0;
        bool distinct = true;
        double warmError = 0;
        var iterations = new List<int>();
        for (int call = 0; call < 2; call++)
        {
            using var a = attention.Forward(first.Q, first.K, first.V, firstLayer);
            var (output, mask, queryLabels, keyLabels) = (a.Output.clone(), a.Sparsity.BlockMask.clone(), a.Sparsity.QueryLabels.clone(), a.Sparsity.KeyLabels.clone());
            var (density, floorShare) = (a.Density.clone(), a.Sparsity.FloorShare!.clone());
            using var b = attention.Forward(second.Q, second.K, second.V, secondLayer);
            changed += Differences(a.Output, output) + Differences(a.Sparsity.BlockMask, mask) + Differences(a.Sparsity.QueryLabels, queryLabels)
                       + Differences(a.Sparsity.KeyLabels, keyLabels) + Differences(a.Density, density) + Differences(a.Sparsity.FloorShare!, floorShare);
            distinct &= Differences(a.Output, b.Output) > 0 && Differences(a.Sparsity.KeyLabels, b.Sparsity.KeyLabels) > 0;
            if (call == 1) warmError = Math.Max(ExactError(first.Q, first.K, first.V, a), ExactError(second.Q, second.K, second.V, b));
            iterations.AddRange([a.KMeansIterations, b.KMeansIterations]);
        }
        bool counts = iterations.SequenceEqual([Options.InitIterations, Options.InitIterations, Options.StepIterations, Options.StepIterations])
                      && firstLayer.Calls == 2 && secondLayer.Calls == 2;
        bool passed = changed == 0 && distinct && counts && backend.CachedPipelines == 1 && warmError <= CudaConformance.HalfPrecisionTolerance;
        return (passed, $"{changed} elements of the first layer's result changed by the second layer's call; results distinct: {distinct}; " +
                        $"k-means iterations {string.Join("/", iterations)}; {backend.CachedPipelines} cached pipeline(s); warm output vs float32 {warmError:E2}");
    }

    /// <summary>
    /// With a target density, the fused operator's first call reaches it within
    /// <see cref="DensityBisection.RelativeTolerance"/>, stores the chosen top-p in the layer state and the
    /// warm call reuses it; the staged path chooses the same top-p from the same state.
    /// </summary>
    public static (bool Passed, string Detail) TargetDensityReached(Device device, int seed)
    {
        const double Target = 0.2;
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var (q, k, v) = ClusteredQkv(VideoTokens, generator, device);
        using var backend = new CudaBackend();
        var attention = new Svg2Attention(Options with { TargetDensity = Target }, backend);
        using var state = new Svg2LayerState();
        using var stagedState = new Svg2LayerState();
        using var cold = attention.Forward(q, k, v, state);
        double reached = cold.DensityPerHead().Average();
        double? chosen = state.ChosenTopP;
        using var warm = attention.Forward(q, k, v, state);
        using var staged = attention.Forward(q, k, v, stagedState, qualityProbe: new QualityProbe(64, Options.Seed));
        bool within = Math.Abs(reached - Target) <= DensityBisection.RelativeTolerance * Target;
        bool stored = chosen == cold.TopP && warm.TopP == cold.TopP && state.ChosenTopP == chosen;
        bool sameChoice = stagedState.ChosenTopP == chosen;
        bool passed = within && stored && sameChoice && chosen is > 0 and <= 1;
        return (passed, $"target {Target:P0}: first call {reached:P2} at top-p {chosen:F6}; warm call top-p {warm.TopP:F6}, density {warm.DensityPerHead().Average():P2}; " +
                        $"staged path chose {stagedState.ChosenTopP:F6}");
    }

    /// <summary>
    /// q, k, v [1, H, S, D] bf16: q and k rows are noisy copies of a few centres per head (so k-means
    /// has structure to find), v standard normal.
    /// </summary>
    internal static (Tensor Q, Tensor K, Tensor V) ClusteredQkv(long tokens, Generator generator, Device device)
    {
        Tensor Clustered()
        {
            var centres = randn([Heads, TrueClusters, Dim], generator: generator) * 1.5;
            var assignment = randint(0, TrueClusters, [Heads, tokens], generator: generator);
            var rows = centres.gather(1, assignment.unsqueeze(-1).expand(-1, -1, Dim)) + 0.4 * randn([Heads, tokens, Dim], generator: generator);
            return rows.unsqueeze(0).to(ScalarType.BFloat16).to(device);
        }
        var q = Clustered();
        var k = Clustered();
        return (q, k, randn([1, Heads, tokens, Dim], generator: generator).to(ScalarType.BFloat16).to(device));
    }

    /// <summary>The result's output against float32 attention over the blocks the result reports.</summary>
    static double ExactError(Tensor q, Tensor k, Tensor v, Svg2Result result)
    {
        var exact = ReferenceComputations.MaskedAttention(AttentionInputs.Flatten(q), AttentionInputs.Flatten(k), AttentionInputs.Flatten(v),
            result.Sparsity.QueryLabels, result.Sparsity.KeyLabels, result.Sparsity.BlockMask, 1.0 / Math.Sqrt(Dim));
        return ReferenceComputations.RelativeError(AttentionInputs.Flatten(result.Output), exact);
    }

    internal static long Differences(Tensor actual, Tensor expected) => (actual.to(ScalarType.Float64) != expected.to(ScalarType.Float64)).sum().item<long>();
}
