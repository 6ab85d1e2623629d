using Svg2.Algorithm;
using Svg2.Attention.Fp8;
using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using Svg2.Evaluation.Benchmarks;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// The Hopper plan's pair tiles (tail_pairs.cu): the GPU's matching against <see cref="TailPairing"/>'s greedy rule,
/// the attention over a paired plan against masked float32 attention, and the FP8 attention over it against the FP8 reference.
/// </summary>
public static class TailPairConformance
{
    /// <summary>
    /// Query clusters of about 40 rows (most of them a tail alone) whose masks come from a few shared patterns with
    /// noise, so that pairs share some keys and not others: every pair tile masks rows of both clusters. The output
    /// is NaN before the run and checked complete; rows of the one cluster selecting nothing must be 0.
    /// </summary>
    public static (bool Passed, string Detail) PairTilesMatch(Device device, ScalarType dtype, int dim, int seed)
    {
        using var scope = NewDisposeScope();
        var library = KernelLibrary.For(CudaDevice.Get(device.index), dtype, dim);
        if (library.Family != KernelFamily.Hopper) return (true, "the portable kernels have no pair tiles");
        using var problem = new PairedProblem(device, dtype, dim, seed);
        using var workspace = new AttentionWorkspace(PairedProblem.Groups, PairedProblem.QueryClusters, PairedProblem.KeyClusters, device, pairTails: true);
        var (plan, planPassed) = PlanPairs(library, problem, workspace);
        var output = full_like(problem.Q, double.NaN);
        SparseAttentionKernels.EnqueueAttention(library, problem.Q, problem.K, problem.V, output, problem.QueryLayout, problem.KeyLayout, workspace,
            problem.Scale, IntPtr.Zero);
        var (error, nonFinite, nonZeroEmpty) = problem.Judge(output);
        bool passed = planPassed && nonFinite == 0 && error <= CudaConformance.HalfPrecisionTolerance && nonZeroEmpty == 0;
        return (passed, $"{plan}; rel. error {error:E2}; {nonFinite} NaN/Inf elements left; {nonZeroEmpty} non-zero elements in rows without keys");
    }

    /// <summary>
    /// The FP8 kernel (per-token K scales, K smoothed) over the same kind of paired plan against the FP8 reference
    /// (<see cref="Fp8BlockSparseAttention"/>, which walks each cluster's own keys): a pair tile's rows round P against
    /// the running maxima of the union's tiles, so the two agree within <see cref="Fp8AttentionConformance.ReferenceTolerance"/>
    /// and the kernel's error against float32 may exceed the reference's by at most <see cref="Fp8AttentionConformance.ErrorGrowth"/>.
    /// </summary>
    public static (bool Passed, string Detail) Fp8PairTilesMatch(Device device, int dim, int seed)
    {
        using var scope = NewDisposeScope();
        var library = KernelLibrary.For(CudaDevice.Get(device.index), ScalarType.BFloat16, dim);
        var settings = Fp8AttentionSettings.Default;
        if (Fp8AttentionKernels.Unsupported(library, settings) is { } reason) return (true, $"no FP8 kernel here: {reason}");
        using var problem = new PairedProblem(device, ScalarType.BFloat16, dim, seed);
        using var workspace = new AttentionWorkspace(PairedProblem.Groups, PairedProblem.QueryClusters, PairedProblem.KeyClusters, device, pairTails: true);
        var (plan, planPassed) = PlanPairs(library, problem, workspace);
        var output = full_like(problem.Q, double.NaN);
        using (var operands = Fp8AttentionKernels.Quantize(library, problem.Q, problem.K, problem.V, settings, IntPtr.Zero))
            Fp8AttentionKernels.EnqueueAttention(library, operands, output, problem.QueryLayout, problem.KeyLayout, workspace, problem.Scale, IntPtr.Zero);
        var reference = Fp8BlockSparseAttention.Forward(problem.Q, problem.K, problem.V, problem.QueryLayout, problem.KeyLayout, problem.Mask,
            problem.Scale, settings);
        var (error, nonFinite, nonZeroEmpty) = problem.Judge(output);
        var (referenceError, _, _) = problem.Judge(reference);
        double gap = ReferenceComputations.RelativeError(output, reference);
        bool passed = planPassed && nonFinite == 0 && nonZeroEmpty == 0 && gap <= Fp8AttentionConformance.ReferenceTolerance
                      && error <= Fp8AttentionConformance.ErrorGrowth * referenceError;
        return (passed, $"{plan}; kernel vs FP8 reference {gap:E2}; vs float32: kernel {error:E2}, reference {referenceError:E2}; " +
                        $"{nonFinite} NaN/Inf elements left; {nonZeroEmpty} non-zero elements in rows without keys");
    }

    /// <summary>
    /// Enqueues the plan with its tail pairing and checks the pairing: partners equal to <see cref="TailPairing"/>'s greedy
    /// rule, some pairs, and some whose tile masks keys on both sides.
    /// </summary>
    static (string Detail, bool Passed) PlanPairs(KernelLibrary library, PairedProblem problem, AttentionWorkspace workspace)
    {
        var pairs = workspace.Pairs ?? throw new InvalidOperationException("The workspace allocated no tail pairing.");
        pairs.Partner.fill_(-2);
        SparseAttentionKernels.EnqueuePlan(library, problem.QueryLayout, problem.KeyLayout, problem.Mask, workspace, IntPtr.Zero);
        var expectedPartners = TailPairing.Partners(problem.QueryLayout.Sizes, problem.Mask, problem.KeyLayout.Sizes, QueryTilePadding.HalfRows);
        var partners = pairs.Partner.cpu();
        long partnerDifferences = 0, pairCount = 0, bothSidesMasked = 0;
        var bounds = pairs.Bounds.cpu();
        var rangeCount = pairs.RangeCount.cpu();
        var rangeEnd = pairs.RangeEnd.cpu();
        var slots = pairs.Slot.cpu();
        for (int g = 0; g < PairedProblem.Groups; g++)
            for (int c = 0; c < PairedProblem.QueryClusters; c++)
            {
                int partner = partners[g, c].item<int>();
                partnerDifferences += partner == expectedPartners[g][c] ? 0 : 1;
                if (partner <= c) continue;
                pairCount++;
                int slot = slots[g, c].item<int>(), ranges = rangeCount[g, slot].item<int>();
                int total = ranges > 0 ? rangeEnd[g, slot, ranges - 1].item<int>() : 0;
                if (bounds[g, slot, 0].item<int>() > 0 && bounds[g, slot, 1].item<int>() < total) bothSidesMasked++;
            }
        return ($"{pairCount} pairs ({bothSidesMasked} with keys of each cluster alone), {partnerDifferences} partners differ from the greedy rule",
                partnerDifferences == 0 && pairCount > 0 && bothSidesMasked > 0);
    }

    /// <summary>Random q, k, v, layouts and a mask of shared patterns with noise (see <see cref="PairTilesMatch"/>).</summary>
    sealed class PairedProblem : IDisposable
    {
        public const int Groups = 2, QueryTokens = 3000, KeyTokens = 1700, QueryClusters = 80, KeyClusters = 90;
        const int Patterns = 6;
        readonly Tensor _queryLabels, _keyLabels;

        public PairedProblem(Device device, ScalarType dtype, int dim, int seed)
        {
            using var generator = new Generator((ulong)seed);
            Q = randn([Groups, QueryTokens, dim], generator: generator).to(dtype).to(device);
            K = randn([Groups, KeyTokens, dim], generator: generator).to(dtype).to(device);
            V = randn([Groups, KeyTokens, dim], generator: generator).to(dtype).to(device);
            _queryLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, QueryTokens, QueryClusters, 0.9, generator).to(device);
            _keyLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, KeyTokens, KeyClusters, 0.8, generator).to(device);
            var patterns = rand([Groups, Patterns, KeyClusters], generator: generator) < 0.3;
            var patternOf = randint(0, Patterns, [Groups, QueryClusters], generator: generator);
            var noise = rand([Groups, QueryClusters, KeyClusters], generator: generator) < 0.08;
            Mask = (patterns.gather(1, patternOf.unsqueeze(-1).expand(-1, -1, KeyClusters)) ^ noise).to(device);
            Mask.select(1, 0).zero_();   // one query cluster selects nothing: its rows must be 0
            var backend = new CudaBackend();
            QueryLayout = backend.Layout(_queryLabels, QueryClusters);
            KeyLayout = backend.Layout(_keyLabels, KeyClusters);
            Scale = 1.0 / Math.Sqrt(dim);
        }

        public Tensor Q { get; }
        public Tensor K { get; }
        public Tensor V { get; }
        public Tensor Mask { get; }
        public ClusterLayout QueryLayout { get; }
        public ClusterLayout KeyLayout { get; }
        public double Scale { get; }

        /// <summary>An output's relative error against masked float32 attention, its non-finite elements and the non-zero ones of rows without keys.</summary>
        public (double Error, long NonFinite, long NonZeroEmpty) Judge(Tensor output)
        {
            using var scope = NewDisposeScope();
            var expected = ReferenceComputations.MaskedAttention(Q, K, V, _queryLabels, _keyLabels, Mask, Scale);
            var emptyRows = (_queryLabels == 0).unsqueeze(-1).expand_as(output);
            return (ReferenceComputations.RelativeError(output, expected), output.isfinite().logical_not().sum().item<long>(),
                    (output.masked_select(emptyRows) != 0).sum().item<long>());
        }

        public void Dispose()
        {
            QueryLayout.Dispose();
            KeyLayout.Dispose();
        }
    }
}
