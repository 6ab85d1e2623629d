using Svg2.Attention;
using Svg2.Backends;
using Svg2.Configuration;
using Svg2.Evaluation.Benchmarks;
using Svg2.Evaluation.Workloads;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Svg2.Tests.Workloads;

/// <summary>
/// How much query-tile padding SVG2's selection leaves on the built-in video-like workload of a named shape, on the
/// CPU reference: clusters' rows rounded up to whole tiles and to halves, and the estimate for halves shared
/// by two clusters' last rows (<see cref="TailPairing"/>), each row weighted by its cluster's selected keys. Runs when
/// SVG2_PADDING_REPORT names a shape (e.g. wan-1.3b-480p); SVG2_PADDING_INIT sets the k-means init iterations (20 when
/// unset; the CUDA bench runs 50, which the CPU makes slow at video shapes).
/// </summary>
public class TilePaddingReport(ITestOutputHelper output)
{
    const int WorkloadSeed = 7;
    static readonly double[] TopPs = [0.9, 0.97];

    [SkippableFact]
    public void PaddingOfTheSelectionOnTheVideoLikeWorkload()
    {
        var shapeName = Environment.GetEnvironmentVariable("SVG2_PADDING_REPORT");
        Skip.If(string.IsNullOrEmpty(shapeName), "Set SVG2_PADDING_REPORT to a workload shape.");
        int initIterations = int.Parse(Environment.GetEnvironmentVariable("SVG2_PADDING_INIT") ?? "20");
        var shape = BenchmarkShape.Find(shapeName!);
        using var sample = VideoLikeWorkload.Generate(VideoShape.FromName(shapeName!), WorkloadSeed);
        output.WriteLine($"{shapeName}: QC {shape.QueryClusters}, KC {shape.KeyClusters}, {initIterations} k-means init iterations, float32 reference");
        foreach (var topP in TopPs)
        {
            var options = new Svg2Options
            {
                QueryClusters = shape.QueryClusters, KeyClusters = shape.KeyClusters, TopP = topP, InitIterations = initIterations, ScaleClusterCounts = false,
            };
            using var state = new Svg2LayerState();
            using var scope = NewDisposeScope();
            using var result = new Svg2Attention(options, new ReferenceBackend()).Forward(sample.Query, sample.Key, sample.Value, state);
            var mask = result.Sparsity.BlockMask.reshape(-1, result.QueryClusters, result.KeyClusters);
            int groups = (int)mask.shape[0];
            Tensor SizesOf(Tensor labels, int clusters) =>
                stack(Enumerable.Range(0, groups).Select(g => bincount(labels.reshape(groups, -1)[g], minlength: clusters)).ToArray());
            var rows = SizesOf(result.Sparsity.QueryLabels, result.QueryClusters);
            var keySizes = SizesOf(result.Sparsity.KeyLabels, result.KeyClusters);
            var keys = mask.to(ScalarType.Float64).bmm(keySizes.to(ScalarType.Float64).unsqueeze(2)).squeeze(2);
            var padding = QueryTilePadding.Of(rows, keys, mask, keySizes);
            output.WriteLine($"top_p {topP}: density {result.DensityPerHead().Average():P1}; rows x keys computed beyond the clusters': " +
                $"{QueryTilePadding.TileRows}-row tiles {padding.Tiles:P1}, {QueryTilePadding.HalfRows}-row halves {padding.Halves:P1}, " +
                $"halves shared by two clusters' last rows {padding.SharedHalves:P1}");
            Assert.InRange(padding.SharedHalves, 0, padding.Halves + 1e-12);
        }
    }
}
