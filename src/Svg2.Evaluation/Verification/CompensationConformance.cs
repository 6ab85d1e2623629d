using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Configuration;
using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// Checks of centroid compensation on the <see cref="CudaBackend"/> (the <c>svg2-ear</c> method):
/// the attention kernel's per-query-cluster merge, per-row keys and both at once (per row with a light
/// tail) against the portable reference in float32, the fused operator against the reference computed
/// from its own clusters, and a kernel given no compensation weight leaving the output bit for bit as
/// without compensation.
/// </summary>
public static class CompensationConformance
{
    /// <summary>Runs every check on <paramref name="device"/>; a failed check never stops the others.</summary>
    public static IReadOnlyList<ConformanceResult> RunAll(Device device, int seed) =>
    [
        .. from variant in Variants from dim in new[] { 64, 128 }
           select CudaConformance.Run($"{variant.Name} compensation in the attention kernel vs float32 reference (bf16 D{dim})",
               () => KernelCompensationMatches(device, dim, variant, seed + dim)),
        .. Variants.Select(variant => CudaConformance.Run($"fused operator with {variant.Name} compensation vs float32 reference over its clusters",
            () => FusedCompensationMatches(device, variant, seed + 1))),
        CudaConformance.Run("compensation terms of weight 0 leave the attention bit for bit", () => EmptyTermsLeaveTheOutput(device, seed + 2)),
        CudaConformance.Run("light-tail kernel vs CompensationTail and the tail's reference term", () => TailKernelMatches(device, seed + 3)),
    ];

    /// <summary>
    /// <c>svg2_compensation_tail</c> against <see cref="CompensationTail"/> and <see cref="ClusterCompensationTerms.FromLogits"/>
    /// on log-weights spread over many decades, with empty clusters, a NaN log-weight, a NaN mean value and text rows and
    /// columns in the layout: the split equal outside a band of 1e-3 around the threshold, the terms within 1e-4, NaN
    /// where the reference has NaN, and nothing written outside the video region.
    /// </summary>
    public static (bool Passed, string Detail) TailKernelMatches(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, QueryClusters = 40, KeyClusters = 300, Dim = 64, TextClusters = 2;
        const double TailMass = 1e-3;
        var logits = randn([Groups, QueryClusters, KeyClusters], generator: generator) * 6;
        logits.select(2, 7).fill_(double.NegativeInfinity);
        logits[1, 3, 11] = tensor(float.NaN);
        var valueMeans = randn([Groups, KeyClusters, Dim], generator: generator);
        valueMeans[2, 20, 5] = tensor(float.NaN);
        var blockMask = rand([Groups, QueryClusters + TextClusters, KeyClusters + TextClusters], generator: generator) < 0.2;
        (logits, valueMeans, blockMask) = (logits.to(device), valueMeans.to(device), blockMask.to(device));
        var library = KernelLibrary.For(CudaDevice.Get(device.index), ScalarType.BFloat16, Dim);
        var compensable = ones_like(blockMask);
        using var terms = CompensationTailKernel.Enqueue(library, logits, blockMask, valueMeans, TailMass, compensable, IntPtr.Zero);

        using var tail = CompensationTail.Of(logits, TailMass);
        var video = compensable.narrow(1, 0, QueryClusters).narrow(2, 0, KeyClusters);
        var margin = (logits - logits.logsumexp(-1, keepdim: true) - Math.Log(TailMass / KeyClusters)).abs();
        long splitMismatches = ((video == tail) & (margin > 1e-3)).sum().item<long>();
        bool outsideUntouched = compensable.narrow(1, QueryClusters, TextClusters).all().item<bool>() && compensable.narrow(2, KeyClusters, TextClusters).all().item<bool>();
        var skipped = blockMask.narrow(1, 0, QueryClusters).narrow(2, 0, KeyClusters).logical_not();
        using var reference = ClusterCompensationTerms.FromLogits(logits, valueMeans, skipped & video.logical_not());
        var value = terms.Value.narrow(1, 0, QueryClusters);
        bool nanAlike = value.isnan().eq(reference.Value.isnan()).all().item<bool>();
        double valueError = ReferenceComputations.RelativeError(value.nan_to_num(0.0), reference.Value.nan_to_num(0.0));
        var weight = terms.Log2Weight.narrow(1, 0, QueryClusters);
        bool weightsAlike = (weight.isneginf() == reference.Log2Weight.isneginf()).all().item<bool>()
                            && ((weight - reference.Log2Weight).abs().nan_to_num(0.0, 0.0, 0.0) <= 1e-3).all().item<bool>();
        bool textEmpty = terms.Log2Weight.narrow(1, QueryClusters, TextClusters).isneginf().all().item<bool>()
                         && (terms.Value.narrow(1, QueryClusters, TextClusters) == 0).all().item<bool>();
        double share = (skipped & video.logical_not()).sum().item<long>() / (double)skipped.sum().item<long>();
        bool passed = splitMismatches == 0 && outsideUntouched && nanAlike && valueError <= 1e-4 && weightsAlike && textEmpty && share > 0.05;
        return (passed, $"split mismatches outside the threshold band {splitMismatches}; terms rel. error {valueError:E2}; NaN terms alike {nanAlike}; " +
                        $"log2 weights alike {weightsAlike}; text rows empty {textEmpty}, text region untouched {outsideUntouched}; {share:P0} of the skipped blocks in the tail");
    }

    /// <summary>A compensation to check: its mode and, per row, the light tail's τ (0: none).</summary>
    public sealed record Variant(CompensationMode Mode, double TailMass, string Name);

    /// <summary>
    /// Per query cluster, per row, and per row with a tail: τ 1e-2 puts a share of the blocks of the checks' inputs
    /// in the tail (the kernel check draws its tail at random).
    /// </summary>
    static readonly Variant[] Variants =
    [
        new(CompensationMode.PerQueryCluster, 0, "per-query-cluster"),
        new(CompensationMode.PerRow, 0, "per-row"),
        new(CompensationMode.PerRow, 1e-2, "per-row with a light tail"),
    ];

    /// <summary>
    /// The kernel with compensation (per row: the Hopper kernel; the portable kernels fall back to the
    /// reference) against <see cref="VariableBlockAttention"/> in
    /// float32 (the reference the CPU tests check against float64), with empty key clusters, a query
    /// cluster that computes nothing exactly (its rows are the compensation alone) and one that
    /// computes everything (no compensation). With a tail, half of the blocks at random are compensated per
    /// query cluster and the rest per row. Every output element is written, and leaving the compensation out
    /// would fail the bound.
    /// </summary>
    public static (bool Passed, string Detail) KernelCompensationMatches(Device device, int dim, Variant variant, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 2, Tokens = 2000, QueryClusters = 40, KeyClusters = 120;
        var (q, k, v) = ReferenceComputations.RandomQkv(Groups, Tokens, dim, generator, device);
        var queryLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, Tokens, QueryClusters, 0.9, generator).to(device);
        var keyLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, Tokens, KeyClusters, 0.8, generator).to(device);
        var mask = (rand([Groups, QueryClusters, KeyClusters], generator: generator) < 0.2).to(device);
        mask.select(1, 0).zero_();
        mask.select(1, 1).fill_(true);
        using var backend = new CudaBackend();
        using var queryLayout = backend.Layout(queryLabels, QueryClusters);
        using var keyLayout = backend.Layout(keyLabels, KeyClusters);
        using var means = backend.Means(q, k, v, queryLabels, keyLabels, QueryClusters, KeyClusters);
        var tail = variant.TailMass > 0 ? (rand([Groups, QueryClusters, KeyClusters], generator: generator) < 0.5).to(device) : null;
        var compensation = new CentroidCompensation(variant.Mode, means, ones_like(mask), tail);
        double scale = 1.0 / Math.Sqrt(dim);
        var output = backend.CompensatedBlockSparseAttention(q, k, v, queryLayout, keyLayout, mask, scale, compensation);
        var expected = VariableBlockAttention.Forward(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32),
            queryLayout, keyLayout, mask, scale, compensation);
        var uncompensated = backend.BlockSparseAttention(q, k, v, queryLayout, keyLayout, mask, scale);
        long nonFinite = output.isfinite().logical_not().sum().item<long>();
        double error = ReferenceComputations.RelativeError(output, expected);
        double withoutError = ReferenceComputations.RelativeError(uncompensated, expected);
        double compensatedOnlyError = ReferenceComputations.RelativeError(RowsOf(output, queryLabels, 0), RowsOf(expected, queryLabels, 0));
        bool passed = nonFinite == 0 && error <= CudaConformance.HalfPrecisionTolerance && compensatedOnlyError <= CudaConformance.HalfPrecisionTolerance
                      && withoutError > 5 * CudaConformance.HalfPrecisionTolerance;
        return (passed, $"rel. error {error:E2} (rows with compensation only {compensatedOnlyError:E2}); without compensation {withoutError:E2}; {nonFinite} NaN/Inf elements");
    }

    /// <summary>
    /// <see cref="Svg2Attention"/> with compensation on the CUDA backend, fused where the pipeline takes the mode (its
    /// means are the bf16 k-means centroids): the output against the float32 reference compensation
    /// over the clusters and blocks it reports, with float32 member means, cold and warm; and closer to
    /// dense attention than the same operator without compensation.
    /// </summary>
    public static (bool Passed, string Detail) FusedCompensationMatches(Device device, Variant variant, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Tokens = 3000;
        var (q, k, v) = FusedOperatorConformance.ClusteredQkv(Tokens, generator, device);
        var options = new Svg2Options
        {
            QueryClusters = 32, KeyClusters = 128, TopP = 0.5, MinKeyClusterRatio = 0.05, InitIterations = 10, StepIterations = 2, ScaleClusterCounts = false,
            Compensation = variant.Mode, CompensationTailMass = variant.TailMass,
        };
        using var backend = new CudaBackend();
        var compensated = new Svg2Attention(options, backend);
        var plain = new Svg2Attention(options with { Compensation = CompensationMode.None }, backend);
        using var state = new Svg2LayerState();
        using var plainState = new Svg2LayerState();
        var (qg, kg, vg) = (AttentionInputs.Flatten(q), AttentionInputs.Flatten(k), AttentionInputs.Flatten(v));
        var dense = nn.functional.scaled_dot_product_attention(qg.to(ScalarType.Float32), kg.to(ScalarType.Float32), vg.to(ScalarType.Float32));
        bool passed = compensated.FallbackReason is null && backend.CachedPipelines == 0;
        var details = new List<string>();
        foreach (var call in new[] { "cold", "warm" })
        {
            using var result = compensated.Forward(q, k, v, state);
            using var baseline = plain.Forward(q, k, v, plainState);
            var sparsity = result.Sparsity;
            var output = AttentionInputs.Flatten(result.Output);
            using var queryLayout = ClusterPermutation.FromLabels(sparsity.QueryLabels, result.QueryClusters);
            using var keyLayout = ClusterPermutation.FromLabels(sparsity.KeyLabels, result.KeyClusters);
            using var means = ClusterMeans.Of(qg, kg, vg, sparsity.QueryLabels, sparsity.KeyLabels, result.QueryClusters, result.KeyClusters);
            double scale = 1.0 / Math.Sqrt(qg.shape[2]);
            using var tail = variant.TailMass > 0 ? CompensationTail.Of(means, scale, variant.TailMass) : null;
            var reference = VariableBlockAttention.Forward(qg.to(ScalarType.Float32), kg.to(ScalarType.Float32), vg.to(ScalarType.Float32), queryLayout, keyLayout,
                sparsity.BlockMask, scale, new CentroidCompensation(variant.Mode, means, ones_like(sparsity.BlockMask), tail));
            double share = tail is null ? 0 : TailShare(tail, sparsity.BlockMask);
            string tailShare = tail is null ? "" : $", {share:P0} of the skipped blocks in the tail";
            // A tail check whose tail is empty would check plain per-row compensation twice.
            passed &= tail is null || share > 0;
            double error = ReferenceComputations.RelativeError(output, reference);
            double toDense = ReferenceComputations.RelativeError(output, dense), plainToDense = ReferenceComputations.RelativeError(AttentionInputs.Flatten(baseline.Output), dense);
            passed &= error <= CudaConformance.HalfPrecisionTolerance && toDense < plainToDense && output.isfinite().all().item<bool>();
            details.Add($"{call}: vs reference {error:E2}; vs dense {toDense:E2} (without compensation {plainToDense:E2}) at density {result.DensityPerHead().Average():P1}{tailShare}");
        }
        // Per row fuses on Hopper only; elsewhere the compensated calls run staged beside the fused plain ones.
        bool fused = backend.PipelineFor(Svg2.Backends.FusedShape.Of(qg, options.QueryClusters, options.KeyClusters, null)).Compensates(variant.Mode);
        passed &= backend.CachedPipelines == 1;
        return (passed, string.Join("; ", details) + $"; {(fused ? "fused" : "staged")}");
    }

    /// <summary>The share of the skipped blocks that lie in <paramref name="tail"/>.</summary>
    static double TailShare(Tensor tail, Tensor blockMask)
    {
        using var scope = NewDisposeScope();
        var skipped = blockMask.logical_not();
        return (skipped & tail).sum().item<long>() / (double)Math.Max(1, skipped.sum().item<long>());
    }

    /// <summary>Terms whose weights are all -inf (nothing approximated) leave the kernel's output bit for bit as without terms.</summary>
    public static (bool Passed, string Detail) EmptyTermsLeaveTheOutput(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 2, Tokens = 1500, Dim = 128, QueryClusters = 30, KeyClusters = 90;
        var (q, k, v) = ReferenceComputations.RandomQkv(Groups, Tokens, Dim, generator, device);
        using var backend = new CudaBackend();
        using var queryLayout = backend.Layout(ReferenceComputations.LabelsWithEmptyClusters(Groups, Tokens, QueryClusters, 0.9, generator).to(device), QueryClusters);
        using var keyLayout = backend.Layout(ReferenceComputations.LabelsWithEmptyClusters(Groups, Tokens, KeyClusters, 0.9, generator).to(device), KeyClusters);
        var mask = (rand([Groups, QueryClusters, KeyClusters], generator: generator) < 0.3).to(device);
        var library = KernelLibrary.For(CudaDevice.Get(device.index), ScalarType.BFloat16, Dim);
        using var workspace = new AttentionWorkspace(Groups, QueryClusters, KeyClusters, device);
        SparseAttentionKernels.EnqueuePlan(library, queryLayout, keyLayout, mask, workspace, IntPtr.Zero);
        double scale = 1.0 / Math.Sqrt(Dim);
        var without = full_like(q, double.NaN);
        SparseAttentionKernels.EnqueueAttention(library, q, k, v, without, queryLayout, keyLayout, workspace, scale, IntPtr.Zero);
        using var terms = new ClusterCompensationTerms(full([Groups, QueryClusters], double.NegativeInfinity, ScalarType.Float32, device),
            randn([Groups, QueryClusters, Dim], generator: generator).to(device));
        var with = full_like(q, double.NaN);
        SparseAttentionKernels.EnqueueAttention(library, q, k, v, with, queryLayout, keyLayout, workspace, scale, IntPtr.Zero, terms);
        long differences = (with.to(ScalarType.Float32) != without.to(ScalarType.Float32)).sum().item<long>();
        long nonFinite = with.isfinite().logical_not().sum().item<long>();
        return (differences == 0 && nonFinite == 0, $"{differences} elements differ, {nonFinite} NaN/Inf elements");
    }

    static Tensor RowsOf(Tensor x, Tensor labels, long cluster) => x.masked_select((labels == cluster).unsqueeze(-1).expand_as(x));
}
