using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Tests.Algorithm;

/// <summary>
/// The reference k-means against Lloyd's steps written out one by one: leaving the batch at the fixed point
/// and assigning in row chunks change no bit of the result.
/// </summary>
public class KMeansTests
{
    /// <summary>Every one of <paramref name="iterations"/> assignment and update steps on the whole batch, and the step at which each problem stopped moving.</summary>
    static (KMeansResult Result, int[] SettledAt) EveryStep(Tensor points, Tensor initial, int iterations)
    {
        var points32 = points.to(ScalarType.Float32);
        var centroids = initial;
        Tensor labels = null!, sizes = null!;
        var settledAt = Enumerable.Repeat(-1, (int)points.shape[0]).ToArray();
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            labels = KMeans.Assign(points32, centroids.to(ScalarType.Float32));
            var (next, nextSizes) = KMeans.Update(points32, labels, centroids);
            var unchanged = TestTensors.Bools(next.eq(centroids).flatten(1).all(1));
            for (int g = 0; g < settledAt.Length; g++)
                if (settledAt[g] < 0 && unchanged[g]) settledAt[g] = iteration;
            (centroids, sizes) = (next, nextSizes);
        }
        return (new KMeansResult(labels, centroids, sizes), settledAt);
    }

    /// <summary>
    /// Groups of well separated blobs (settle early) and of uniform noise (settle late), with two equal
    /// initial centroids (the second starts empty) and one far from every point (it stays empty).
    /// </summary>
    static (Tensor Points, Tensor Initial) Problem(int seed, ScalarType dtype, int clusters)
    {
        const long groups = 4, tokens = 400, dim = 8;
        using var generator = TestTensors.Seeded(seed);
        var centres = randn([groups, 6, dim], generator: generator) * 6;
        var blobs = centres.gather(1, randint(0, 6, [groups, tokens, 1], generator: generator).expand(-1, -1, dim)) + randn([groups, tokens, dim], generator: generator) * 0.3;
        var noise = rand([groups, tokens, dim], generator: generator);
        var points = cat([blobs.narrow(0, 0, 2), noise.narrow(0, 2, 2)], 0).to(dtype);
        var picks = randint(0, tokens, [groups, clusters], generator: generator);
        picks.narrow(1, 1, 1).copy_(picks.narrow(1, 0, 1));
        var initial = points.gather(1, picks.unsqueeze(-1).expand(-1, -1, dim)).contiguous();
        initial.select(1, clusters - 1).fill_(1000);
        return (points, initial);
    }

    [Theory]
    [InlineData(ScalarType.Float32, 12)]
    [InlineData(ScalarType.BFloat16, 12)]
    [InlineData(ScalarType.Float32, 40)]
    public void StoppingAtTheFixedPointGivesWhatEveryStepGives(ScalarType dtype, int clusters)
    {
        using var scope = NewDisposeScope();
        var (points, initial) = Problem(5, dtype, clusters);
        const int iterations = 60;
        var (expected, settledAt) = EveryStep(points, initial, iterations);
        // The premise: problems settle at different steps, some well before the last.
        Assert.True(settledAt.Min() >= 0 && settledAt.Min() < settledAt.Max() && settledAt.Max() < iterations - 1, string.Join(", ", settledAt));

        using var result = KMeans.Run(points, initial, iterations);
        Assert.True(TestTensors.Same(result.Labels, expected.Labels));
        Assert.True(TestTensors.Same(result.Sizes, expected.Sizes));
        Assert.True(TestTensors.Same(result.Centroids, expected.Centroids));
        Assert.True(result.Sizes.eq(0).any().item<bool>(), "some cluster must end empty");
    }

    [Fact]
    public void FewerStepsThanTheFixedPointNeedsStopWhereAsked()
    {
        using var scope = NewDisposeScope();
        var (points, initial) = Problem(6, ScalarType.Float32, 12);
        foreach (int iterations in new[] { 1, 2, 3 })
        {
            var (expected, _) = EveryStep(points, initial, iterations);
            using var result = KMeans.Run(points, initial, iterations);
            Assert.True(TestTensors.Same(result.Labels, expected.Labels));
            Assert.True(TestTensors.Same(result.Centroids, expected.Centroids));
        }
        // The initial centroids are not modified.
        Assert.True(TestTensors.Same(initial, Problem(6, ScalarType.Float32, 12).Initial));
    }

    [Fact]
    public void AssigningInRowChunksMatchesOneProductOfAllRows()
    {
        using var scope = NewDisposeScope();
        const long groups = 2, clusters = 1000;
        long tokens = 3 * KMeans.CpuChunkElements / (groups * clusters) + 17;
        var points = TestTensors.Normal(7, [groups, tokens, 16]);
        var centroids = TestTensors.Normal(8, [groups, clusters, 16]);
        var distances = points.bmm(centroids.transpose(1, 2)).mul_(-2).add_(centroids.square().sum(-1).unsqueeze(1));
        Assert.True(TestTensors.Same(KMeans.Assign(points, centroids), distances.argmin(-1)));
    }
}
