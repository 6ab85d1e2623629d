using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using Svg2.Evaluation.Benchmarks;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// The Hopper plan's pair tiles (tail_pairs.cu): the GPU's matching against <see cref="TailPairing"/>'s greedy rule,
/// and the attention over a paired plan against masked float32 attention.
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
        using var generator = new Generator((ulong)seed);
        const int Groups = 2, QueryTokens = 3000, KeyTokens = 1700, QueryClusters = 80, KeyClusters = 90, Patterns = 6;
        var library = KernelLibrary.For(CudaDevice.Get(device.index), dtype, dim);
        if (library.Family != KernelFamily.Hopper) return (true, "the portable kernels have no pair tiles");
        var q = randn([Groups, QueryTokens, dim], generator: generator).to(dtype).to(device);
        var k = randn([Groups, KeyTokens, dim], generator: generator).to(dtype).to(device);
        var v = randn([Groups, KeyTokens, dim], generator: generator).to(dtype).to(device);
        var queryLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, QueryTokens, QueryClusters, 0.9, generator).to(device);
        var keyLabels = ReferenceComputations.LabelsWithEmptyClusters(Groups, KeyTokens, KeyClusters, 0.8, generator).to(device);
        var patterns = rand([Groups, Patterns, KeyClusters], generator: generator) < 0.3;
        var patternOf = randint(0, Patterns, [Groups, QueryClusters], generator: generator);
        var noise = rand([Groups, QueryClusters, KeyClusters], generator: generator) < 0.08;
        var mask = (patterns.gather(1, patternOf.unsqueeze(-1).expand(-1, -1, KeyClusters)) ^ noise).to(device);
        mask.select(1, 0).zero_();
        var backend = new CudaBackend();
        using var queryLayout = backend.Layout(queryLabels, QueryClusters);
        using var keyLayout = backend.Layout(keyLabels, KeyClusters);
        double scale = 1.0 / Math.Sqrt(dim);
        var output = full_like(q, double.NaN);
        using var workspace = new AttentionWorkspace(Groups, QueryClusters, KeyClusters, device, pairTails: true);
        var pairs = workspace.Pairs ?? throw new InvalidOperationException("The workspace allocated no tail pairing.");
        pairs.Partner.fill_(-2);
        SparseAttentionKernels.EnqueuePlan(library, queryLayout, keyLayout, mask, workspace, IntPtr.Zero);
        SparseAttentionKernels.EnqueueAttention(library, q, k, v, output, queryLayout, keyLayout, workspace, scale, IntPtr.Zero);

        var expectedPartners = TailPairing.Partners(queryLayout.Sizes, mask, keyLayout.Sizes, QueryTilePadding.HalfRows);
        var partners = pairs.Partner.cpu();
        long partnerDifferences = 0, pairCount = 0, bothSidesMasked = 0;
        var bounds = pairs.Bounds.cpu();
        var rangeCount = pairs.RangeCount.cpu();
        var rangeEnd = pairs.RangeEnd.cpu();
        var slots = pairs.Slot.cpu();
        for (int g = 0; g < Groups; g++)
            for (int c = 0; c < QueryClusters; c++)
            {
                int partner = partners[g, c].item<int>();
                partnerDifferences += partner == expectedPartners[g][c] ? 0 : 1;
                if (partner <= c) continue;
                pairCount++;
                int slot = slots[g, c].item<int>(), ranges = rangeCount[g, slot].item<int>();
                int total = ranges > 0 ? rangeEnd[g, slot, ranges - 1].item<int>() : 0;
                if (bounds[g, slot, 0].item<int>() > 0 && bounds[g, slot, 1].item<int>() < total) bothSidesMasked++;
            }
        var expected = ReferenceComputations.MaskedAttention(q, k, v, queryLabels, keyLabels, mask, scale);
        long nonFinite = output.isfinite().logical_not().sum().item<long>();
        double error = ReferenceComputations.RelativeError(output, expected);
        var emptyRows = (queryLabels == 0).unsqueeze(-1).expand_as(output);
        long nonZeroEmpty = (output.masked_select(emptyRows) != 0).sum().item<long>();
        bool passed = partnerDifferences == 0 && pairCount > 0 && bothSidesMasked > 0 && nonFinite == 0 && error <= CudaConformance.HalfPrecisionTolerance
                      && nonZeroEmpty == 0;
        return (passed, $"{pairCount} pairs ({bothSidesMasked} with keys of each cluster alone), {partnerDifferences} partners differ from the greedy rule; " +
                        $"rel. error {error:E2}; {nonFinite} NaN/Inf elements left; {nonZeroEmpty} non-zero elements in rows without keys");
    }
}
