using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Backends;
using Svg2.Cuda;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// Checks that NaN and infinity in unchecked inputs propagate through the CUDA kernels as through the
/// portable reference (docs/design.md, "Non-finite inputs"): the same labels where a distance is not a
/// number (the first NaN wins, as in torch.argmin), the same selection for a NaN probability row, NaN
/// in the same output elements of the attention stage and of the whole operator.
/// </summary>
public static class NonFiniteConformance
{
    /// <summary>Runs every check on <paramref name="device"/>; a failed check never stops the others.</summary>
    public static IReadOnlyList<ConformanceResult> RunAll(Device device, int seed)
    {
        var results = new List<ConformanceResult>();
        foreach (var (dtype, dim) in new[] { (ScalarType.BFloat16, 128), (ScalarType.Float16, 64) })
        {
            var tag = $"{(dtype == ScalarType.BFloat16 ? "bf16" : "fp16")} D{dim}";
            results.Add(CudaConformance.Run($"non-finite: k-means labels = reference where a distance is NaN ({tag})", () => AssignmentMatches(device, dtype, dim, seed)));
            results.Add(CudaConformance.Run($"non-finite: attention stage NaN where the reference's is ({tag})", () => AttentionMatches(device, dtype, dim, seed + 1)));
        }
        foreach (var precision in new[] { SelectionPrecision.Float32, SelectionPrecision.BFloat16Emulated })
            results.Add(CudaConformance.Run($"non-finite: selection = reference on NaN centroid rows ({precision})", () => SelectionMatches(device, precision, seed + 2)));
        results.Add(CudaConformance.Run("non-finite: operator output NaN where the reference operator's is", () => OperatorMatches(device, seed + 3)));
        return results;
    }

    /// <summary>
    /// One k-means step over 3000 points against 150 centroids (three tiles, the last partial): NaN rows
    /// in group 0, a row with an infinite element in group 1 and a NaN centroid in group 2 (every point
    /// of the group is at NaN distance from it). Rows with a NaN or infinite distance get the reference's
    /// label exactly, every label is a real centroid, the other rows are nearest up to near-ties, the
    /// centroids are non-finite exactly where the reference's are, and group 2 matches the reference.
    /// </summary>
    public static (bool Passed, string Detail) AssignmentMatches(Device device, ScalarType dtype, int dim, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, Tokens = 3000, Clusters = 150;
        var points = randn([Groups, Tokens, dim], generator: generator).to(dtype).to(device);
        var initial = randn([Groups, Clusters, dim], generator: generator).to(dtype).to(device);
        foreach (int row in new[] { 17, 1000, Tokens - 1 }) points[0, row, 3].fill_(double.NaN);
        points[1, 42, 0].fill_(double.PositiveInfinity);
        initial[2, 70, 5].fill_(double.NaN);

        var result = new CudaBackend().KMeans(points, initial, 1);
        var expected = KMeans.Run(points, initial, 1);
        var affected = points.isfinite().all(-1).logical_not();
        affected[2].fill_(true);
        long affectedRows = affected.sum().item<long>();
        long wrongAffected = ((result.Labels != expected.Labels) & affected).sum().item<long>();
        long outOfRange = ((result.Labels < 0) | (result.Labels >= Clusters)).sum().item<long>();

        var distances = ReferenceComputations.CentroidDistances(points, initial);
        var chosen = distances.gather(2, result.Labels.clamp(0, Clusters - 1).unsqueeze(-1)).squeeze(-1);
        var tolerance = 1e-5 * distances.abs().amax([-1]) + 1e-6;
        long notNearest = ((chosen - distances.amin([-1]) > tolerance) & affected.logical_not()).sum().item<long>();

        long finitenessDiffs = (result.Centroids.isfinite() != expected.Centroids.isfinite()).sum().item<long>();
        long nonFinite = result.Centroids.isfinite().logical_not().sum().item<long>();
        long sizeDiffs = (result.Sizes[2] != expected.Sizes[2]).sum().item<long>();
        double groupError = ReferenceComputations.RelativeError(result.Centroids[2], expected.Centroids[2]);
        bool passed = wrongAffected == 0 && outOfRange == 0 && notNearest == 0 && finitenessDiffs == 0 && nonFinite > 0 && sizeDiffs == 0
                      && groupError <= CudaConformance.HalfPrecisionTolerance;
        return (passed, $"{wrongAffected} of {affectedRows} rows with a non-finite distance labelled otherwise, {outOfRange} labels out of range, " +
                        $"{notNearest} other rows not nearest; {finitenessDiffs} centroid elements finite on one side only ({nonFinite} non-finite); " +
                        $"NaN-centroid group: {sizeDiffs} size mismatches, centroid rel. error {groupError:E2}");
    }

    /// <summary>
    /// Selection with a NaN query centroid in group 0 and a NaN key centroid in group 1 (which makes
    /// every row of the group NaN): those rows keep what the reference keeps, the lowest ids up to the
    /// minimum; the other rows are reported, not judged (near-ties, see the selection check).
    /// </summary>
    public static (bool Passed, string Detail) SelectionMatches(Device device, SelectionPrecision precision, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, QueryClusters = 64, KeyClusters = 500, Dim = 128;
        var queryCentroids = (randn([Groups, QueryClusters, Dim], generator: generator) * 0.5).to(ScalarType.BFloat16).to(device);
        var keyCentroids = (randn([Groups, KeyClusters, Dim], generator: generator) * 0.5).to(ScalarType.BFloat16).to(device);
        var keySizes = randint(1, 100, [Groups, KeyClusters], generator: generator).to(device);
        queryCentroids[0, 7, 11].fill_(double.NaN);
        keyCentroids[1, 300, 0].fill_(double.NaN);
        var rule = new SelectionRule(0.9, 0.1, precision);
        var mask = new CudaBackend().SelectKeyClusters(queryCentroids, keyCentroids, keySizes, rule);
        var expected = CriticalClusterSelection.Select(queryCentroids, keyCentroids, keySizes, rule);
        var affected = zeros([Groups, QueryClusters], ScalarType.Bool, device);
        affected[0, 7].fill_(true);
        affected[1].fill_(true);
        var rowsDiffering = (mask != expected).any(-1);
        long wrongAffected = (rowsDiffering & affected).sum().item<long>();
        long otherDiffering = (rowsDiffering & affected.logical_not()).sum().item<long>();
        long keptAffected = mask[1].sum(-1).max().item<long>();
        bool passed = wrongAffected == 0 && keptAffected == rule.MinimumKept(KeyClusters);
        return (passed, $"{wrongAffected} of {affected.sum().item<long>()} NaN rows differ from the reference; NaN rows keep {keptAffected} " +
                        $"(minimum {rule.MinimumKept(KeyClusters)}); {otherDiffering} finite rows differ (near-ties)");
    }

    /// <summary>
    /// The attention stage on random partitions and a random mask, with a NaN query row (group 0), a NaN
    /// key element (group 1) and a NaN value element (group 2), against the reference backend's stage on
    /// the same layouts and mask: NaN in exactly the same output elements, the rest within tolerance.
    /// </summary>
    public static (bool Passed, string Detail) AttentionMatches(Device device, ScalarType dtype, int dim, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, Tokens = 1500, QueryClusters = 40, KeyClusters = 90;
        var q = randn([Groups, Tokens, dim], generator: generator).to(dtype).to(device);
        var k = randn([Groups, Tokens, dim], generator: generator).to(dtype).to(device);
        var v = randn([Groups, Tokens, dim], generator: generator).to(dtype).to(device);
        q[0, 100, 1].fill_(double.NaN);
        k[1, 200, 2].fill_(double.NaN);
        v[2, 300, 5].fill_(double.NaN);
        var backend = new CudaBackend();
        using var queryLayout = backend.Layout(ReferenceComputations.LabelsWithEmptyClusters(Groups, Tokens, QueryClusters, 0.8, generator).to(device), QueryClusters);
        using var keyLayout = backend.Layout(ReferenceComputations.LabelsWithEmptyClusters(Groups, Tokens, KeyClusters, 0.8, generator).to(device), KeyClusters);
        var mask = (rand([Groups, QueryClusters, KeyClusters], generator: generator) < 0.3).to(device);
        double scale = 1.0 / Math.Sqrt(dim);
        var output = backend.BlockSparseAttention(q, k, v, queryLayout, keyLayout, mask, scale);
        var expected = ReferenceBackend.Instance.BlockSparseAttention(q, k, v, queryLayout, keyLayout, mask, scale);
        var (nanDiffs, nanCount, error) = CompareWithNaN(output, expected);
        bool passed = nanDiffs == 0 && nanCount > 0 && error <= CudaConformance.HalfPrecisionTolerance;
        return (passed, $"{nanDiffs} elements NaN on one side only ({nanCount} NaN in the reference); rel. error elsewhere {error:E2}");
    }

    /// <summary>
    /// The operator through the CUDA backend's fused pipeline against the reference operator, four heads:
    /// a NaN query row in head 1 (its row NaN, every query of the head in one cluster), a NaN key element
    /// in head 2 (every key in one NaN cluster), heads 0 and 3 clean. NaN in exactly the same elements.
    /// </summary>
    public static (bool Passed, string Detail) OperatorMatches(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var (q, k, v) = FusedOperatorConformance.ClusteredQkv(3000, generator, device);
        q[0, 1, 100, 1].fill_(double.NaN);
        k[0, 2, 200, 2].fill_(double.NaN);
        var options = FusedOperatorConformance.Options;
        using var backend = new CudaBackend();
        using var cudaState = new Svg2LayerState();
        using var referenceState = new Svg2LayerState();
        using var result = new Svg2Attention(options, backend).Forward(q, k, v, cudaState);
        using var expected = new Svg2Attention(options).Forward(q, k, v, referenceState);
        var cudaNaN = result.Output.isnan();
        var referenceNaN = expected.Output.isnan();
        long nanDiffs = (cudaNaN != referenceNaN).sum().item<long>();
        long headOneRows = referenceNaN[0, 1].any(-1).sum().item<long>();
        long headTwoRows = referenceNaN[0, 2].any(-1).sum().item<long>();
        long cleanHeadsNaN = cudaNaN[0, 0].sum().item<long>() + cudaNaN[0, 3].sum().item<long>();
        bool passed = nanDiffs == 0 && headOneRows == 1 && cleanHeadsNaN == 0;
        return (passed, $"{nanDiffs} elements NaN on one side only; NaN rows: head 1 {headOneRows} (the NaN query), head 2 {headTwoRows} of {q.shape[2]}; " +
                        $"{cleanHeadsNaN} NaN in the clean heads");
    }

    /// <summary>Elements NaN on exactly one side, NaN elements of <paramref name="expected"/>, and the relative error over the elements both hold numbers in.</summary>
    static (long NaNDiffs, long NaNCount, double Error) CompareWithNaN(Tensor actual, Tensor expected)
    {
        var actualNaN = actual.isnan();
        var expectedNaN = expected.isnan();
        var both = (actualNaN | expectedNaN).logical_not();
        return ((actualNaN != expectedNaN).sum().item<long>(), expectedNaN.sum().item<long>(),
                ReferenceComputations.RelativeError(actual.masked_select(both), expected.masked_select(both)));
    }
}
