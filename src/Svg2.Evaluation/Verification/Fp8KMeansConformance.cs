using Svg2.Algorithm;
using Svg2.Configuration;
using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// Checks the FP8 k-means assignment (svg2_kmeans_assign_hopper_fp8) against its reference,
/// <see cref="Fp8Distances"/>: the same labels except where the reference's own scores nearly tie, member means of
/// those labels, NaN rows and NaN centroid tiles labelled as the reference labels them; on GPUs without the Hopper
/// kernels, a refusal that says why.
/// </summary>
public static class Fp8KMeansConformance
{
    /// <summary>
    /// Relative score gap (of the row's largest score magnitude) within which the kernel may pick another centroid than
    /// the reference. Hopper's FP8 tensor cores add their products with fewer mantissa bits than float32 (about 14,
    /// as published for their FP8 GEMMs), so a kernel score can be off the float32 reference's by some 1e-4 of the
    /// scores' size: an H100 left 1 label of 9,000 beyond 1e-4 (fp16, D 128, 300 clusters).
    /// </summary>
    const double NearTie = 1e-3;

    /// <summary>Runs every check on <paramref name="device"/>; a failed check never stops the others.</summary>
    public static IReadOnlyList<ConformanceResult> RunAll(Device device, int seed)
    {
        var results = new List<ConformanceResult>();
        var cases = from shape in new[] { (Type: ScalarType.BFloat16, Dim: 128), (Type: ScalarType.BFloat16, Dim: 64), (Type: ScalarType.Float16, Dim: 128) }
                    from clusters in new[] { 300, 40 }
                    select (shape.Type, shape.Dim, Clusters: clusters);
        foreach (var ((dtype, dim, clusters), index) in cases.Select((c, i) => (c, i)))
        {
            var tag = $"{(dtype == ScalarType.BFloat16 ? "bf16" : "fp16")} D{dim}, {clusters} clusters";
            results.Add(CudaConformance.Run($"FP8 k-means step vs FP8 reference ({tag})", () => StepMatches(device, dtype, dim, clusters, seed + index)));
        }
        return results;
    }

    /// <summary>
    /// One FP8 k-means step over 3000 points with a shared offset (three groups; duplicate starting centroids leave
    /// some clusters empty): group 0 has two NaN rows (label 0), group 2 a NaN centroid in its second tile when
    /// there is one (every point takes that tile's first centroid).
    /// </summary>
    public static (bool Passed, string Detail) StepMatches(Device device, ScalarType dtype, int dim, int clusters, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, Tokens = 3000;
        int duplicates = Math.Min(10, clusters / 4);
        var offset = randn([Groups, 1, dim], generator: generator) * 3;
        var points = (offset + randn([Groups, Tokens, dim], generator: generator)).to(dtype).to(device);
        var pick = randint(0, Tokens, [Groups, clusters], generator: generator).to(device);
        pick.narrow(1, clusters - duplicates, duplicates).copy_(pick.narrow(1, 0, duplicates));
        var initial = points.gather(1, pick.unsqueeze(-1).expand(-1, -1, dim)).contiguous();
        points[0, 17, 5] = float.NaN;
        points[0, 2999, 0] = float.NaN;
        bool poisonedTile = clusters > Fp8Distances.CentroidTileRows;
        if (poisonedTile) initial[2, Fp8Distances.CentroidTileRows + 3, 1] = float.NaN;

        var backend = new CudaBackend();
        var library = KernelLibrary.For(CudaDevice.Get(device.index), dtype, dim);
        if (library.Family != KernelFamily.Hopper)
        {
            try
            {
                backend.KMeans(points, initial, 1, KMeansPrecision.Fp8).Dispose();
                return (false, "the portable kernels ran an FP8 assignment they do not have");
            }
            catch (NotSupportedException error)
            {
                return (error.Message.Contains("Hopper"), $"refused: {error.Message}");
            }
        }

        using var result = backend.KMeans(points, initial, 1, KMeansPrecision.Fp8);
        var points32 = points.to(ScalarType.Float32);
        var initial32 = initial.to(ScalarType.Float32);
        var centre = Fp8Distances.Centre(initial);
        var expected = Fp8Distances.Assign(points32, initial32, centre);
        var scores = Fp8Distances.Scores(points32, initial32, centre).nan_to_num(double.PositiveInfinity, double.PositiveInfinity, double.NegativeInfinity);
        var labels = result.Labels;
        var differs = labels.ne(expected);
        var gap = scores.gather(2, expected.unsqueeze(2)).squeeze(2) - scores.gather(2, labels.clamp(0, clusters - 1).unsqueeze(2)).squeeze(2);
        var tolerance = NearTie * scores.nan_to_num(0, 0, 0).abs().amax([-1]) + 1e-6;
        long beyondTie = (differs & (gap.isnan() | gap.gt(tolerance))).sum().item<long>();
        double worstGap = differs.any().item<bool>() ? (gap / (tolerance / NearTie)).masked_select(differs).nan_to_num(double.PositiveInfinity).max().item<float>() : 0;
        long differing = differs.sum().item<long>();
        long outOfRange = (labels.lt(0) | labels.ge(clusters)).sum().item<long>();
        bool nanRows = labels[0, 17].item<long>() == 0 && labels[0, 2999].item<long>() == 0;
        bool tile = !poisonedTile || labels[2].eq(Fp8Distances.CentroidTileRows).all().item<bool>();

        var (means, sizes) = KMeans.Update(points32, labels, initial);
        long sizeMismatches = sizes.ne(result.Sizes).sum().item<long>();
        var finite = means.isfinite().all(-1, keepdim: true).expand_as(means);
        double meanError = ReferenceComputations.RelativeError(result.Centroids.masked_select(finite), means.masked_select(finite));
        long emptyClusters = sizes.eq(0).sum().item<long>();
        bool passed = beyondTie == 0 && outOfRange == 0 && nanRows && tile && sizeMismatches == 0 && meanError <= CudaConformance.HalfPrecisionTolerance;
        return (passed, $"labels: {differing} of {Groups * Tokens} differ from the reference, {beyondTie} beyond a near-tie ({NearTie:E0} of the row's scores; the widest gap {worstGap:E1}), " +
                        $"{outOfRange} out of range; NaN rows labelled 0: {nanRows}; NaN centroid takes its tile: {(poisonedTile ? tile.ToString() : "n/a")}; " +
                        $"{sizeMismatches} size mismatches, centroid rel. error {meanError:E2}, {emptyClusters} empty clusters");
    }
}
