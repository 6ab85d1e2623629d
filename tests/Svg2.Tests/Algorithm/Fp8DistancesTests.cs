using Svg2.Algorithm;
using Svg2.Configuration;
using static TorchSharp.torch;

namespace Svg2.Tests.Algorithm;

/// <summary>
/// The FP8 assignment (<see cref="Fp8Distances"/>): the nearest centroid up to FP8's rounding, exact where clusters are
/// far apart, the NaN rules of the kernel it checks, and k-means that converges as the float32 one does.
/// </summary>
public class Fp8DistancesTests
{
    /// <summary>Points around <paramref name="blobs"/> centres that share a large offset, as attention rows do, and centroids drawn from them.</summary>
    static (Tensor Points, Tensor Centroids) Clustered(int seed, long groups, long tokens, long dim, int blobs, int clusters, double spread)
    {
        using var generator = TestTensors.Seeded(seed);
        var offset = randn([groups, 1, dim], generator: generator) * 4;
        var centres = randn([groups, blobs, dim], generator: generator);
        var points = offset + centres.gather(1, randint(0, blobs, [groups, tokens, 1], generator: generator).expand(-1, -1, dim))
                     + randn([groups, tokens, dim], generator: generator) * spread;
        var picks = randint(0, tokens, [groups, clusters, 1], generator: generator).expand(-1, -1, dim);
        return (points, points.gather(1, picks).contiguous());
    }

    static Tensor Distances(Tensor points, Tensor centroids) =>
        (points.to(ScalarType.Float64).unsqueeze(2) - centroids.to(ScalarType.Float64).unsqueeze(1)).square().sum(-1);

    [Theory]
    [InlineData(1, 64, 40)]
    [InlineData(2, 128, 300)]
    public void PicksACentroidAsNearAsFp8CanTell(int seed, long dim, int clusters)
    {
        using var scope = NewDisposeScope();
        var (points, centroids) = Clustered(seed, 2, 700, dim, 12, clusters, 0.6);
        var labels = Fp8Distances.Assign(points, centroids, Fp8Distances.Centre(centroids));
        var exact = KMeans.Assign(points, centroids);
        var distances = Distances(points, centroids);
        var best = distances.gather(2, exact.unsqueeze(2)).squeeze(2);
        var chosen = distances.gather(2, labels.unsqueeze(2)).squeeze(2);
        double agreement = labels.eq(exact).to(ScalarType.Float64).mean().item<double>();
        double meanExcess = ((chosen - best).mean() / best.mean()).item<double>();
        double worstExcess = ((chosen - best).max() / best.mean()).item<double>();
        // Most points keep their float32 label; those that move go to a centroid a few percent farther at most.
        Assert.InRange(agreement, 0.8, 1.0);
        Assert.InRange(meanExcess, 0.0, 5e-3);
        Assert.InRange(worstExcess, 0.0, 0.1);
        Assert.True(labels.ge(0).all().item<bool>() && labels.lt(clusters).all().item<bool>());
    }

    [Fact]
    public void AgreesWithFloat32WhereClustersAreFarApart()
    {
        using var scope = NewDisposeScope();
        using var generator = TestTensors.Seeded(3);
        // One centroid per blob, at its centre; the points within 2% of the blobs' spacing around them.
        var centroids = randn([3, 20, 64], generator: generator) + randn([3, 1, 64], generator: generator) * 4;
        var points = centroids.gather(1, randint(0, 20, [3, 500, 1], generator: generator).expand(-1, -1, 64)) + randn([3, 500, 64], generator: generator) * 0.02;
        var labels = Fp8Distances.Assign(points, centroids, Fp8Distances.Centre(centroids));
        Assert.True(TestTensors.Same(labels, KMeans.Assign(points, centroids)));
    }

    [Fact]
    public void ANaNInARowSendsItToTheFirstCentroidAndLeavesTheOthers()
    {
        using var scope = NewDisposeScope();
        var (points, centroids) = Clustered(5, 1, 64, 64, 4, 10, 0.3);
        var clean = Fp8Distances.Assign(points, centroids, Fp8Distances.Centre(centroids));
        points[0, 7, 3] = float.NaN;
        var labels = Fp8Distances.Assign(points, centroids, Fp8Distances.Centre(centroids));
        Assert.Equal(0, labels[0, 7].item<long>());
        var others = ones(64, ScalarType.Bool);
        others[7] = false;
        Assert.True(TestTensors.Same(labels[0].masked_select(others), clean[0].masked_select(others)));
    }

    [Fact]
    public void ANaNCentroidTakesItsWholeTileAsTheKernelsScaleDoes()
    {
        using var scope = NewDisposeScope();
        int clusters = Fp8Distances.CentroidTileRows + 40;
        var (points, centroids) = Clustered(6, 1, 300, 64, 8, clusters, 0.3);
        centroids[0, Fp8Distances.CentroidTileRows + 5, 9] = float.NaN;
        var centre = Fp8Distances.Centre(centroids);
        Assert.True(centre.isfinite().all().item<bool>());
        var labels = Fp8Distances.Assign(points, centroids, centre);
        // The tile's scale is NaN, so each of its scores is: the first column of the tile wins for every point.
        Assert.True(labels.eq(Fp8Distances.CentroidTileRows).all().item<bool>());
    }

    [Fact]
    public void KMeansInFp8ConvergesAsTheFloat32OneDoes()
    {
        using var scope = NewDisposeScope();
        var (points, initial) = Clustered(7, 2, 900, 64, 16, 24, 0.5);
        double Inertia(KMeansResult result) =>
            Distances(points, result.Centroids).gather(2, result.Labels.unsqueeze(2)).sum().item<double>();
        using var exact = KMeans.Run(points, initial, 15);
        using var fp8 = KMeans.Run(points, initial, 15, KMeansPrecision.Fp8);
        using var start = KMeans.Run(points, initial, 1);
        double exactInertia = Inertia(exact), fp8Inertia = Inertia(fp8);
        Assert.True(fp8Inertia < Inertia(start), "FP8 iterations lower the inertia");
        Assert.InRange(fp8Inertia / exactInertia, 0.98, 1.02);
        // The means are exact means of the FP8 labels.
        var (means, _) = KMeans.Update(points, fp8.Labels, fp8.Centroids);
        Assert.True(TestTensors.RelativeError(means, fp8.Centroids) < 1e-6);
    }

    [Fact]
    public void TheOperatorClustersInFp8AlikeOnTheStagedAndTheFusedReferencePaths()
    {
        using var scope = NewDisposeScope();
        using var sample = Svg2.Evaluation.Workloads.VideoLikeWorkload.Generate(new Svg2.Evaluation.Workloads.VideoShape(2, 6, 8, 2, 64), 9);
        var options = new Svg2Options { QueryClusters = 8, KeyClusters = 24, InitIterations = 5, StepIterations = 1, ScaleClusterCounts = false, TopP = 0.8 };
        var fp8 = options with { KMeansPrecision = KMeansPrecision.Fp8 };
        using var staged = new Svg2.Attention.Svg2Attention(fp8).Forward(sample.Query, sample.Key, sample.Value, new Svg2.Attention.Svg2LayerState());
        using var fused = new Svg2.Attention.Svg2Attention(fp8, new Svg2.Tests.Attention.ReferenceFusedBackend())
            .Forward(sample.Query, sample.Key, sample.Value, new Svg2.Attention.Svg2LayerState());
        using var plain = new Svg2.Attention.Svg2Attention(options).Forward(sample.Query, sample.Key, sample.Value, new Svg2.Attention.Svg2LayerState());
        Assert.True(TestTensors.Same(staged.Sparsity.BlockMask, fused.Sparsity.BlockMask));
        Assert.True(TestTensors.RelativeError(fused.Output, staged.Output) < 1e-6);
        // Another clustering of the same quality: its error against dense attention is the float32 clustering's, give or take.
        using var dense = nn.functional.scaled_dot_product_attention(sample.Query, sample.Key, sample.Value);
        double fp8Error = TestTensors.RelativeError(staged.Output, dense), plainError = TestTensors.RelativeError(plain.Output, dense);
        Assert.True(fp8Error < 1.25 * plainError, $"FP8 clustering: {fp8Error:F4}; float32 clustering: {plainError:F4}");
    }

    [Fact]
    public void ACentreOfTheWrongShapeIsRefused()
    {
        using var scope = NewDisposeScope();
        var (points, centroids) = Clustered(8, 2, 50, 64, 4, 6, 0.3);
        var error = Assert.Throws<ArgumentException>(() => Fp8Distances.Assign(points, centroids, zeros(2, 32)));
        Assert.Contains("[G, D] = [2, 64]", error.Message);
    }
}
