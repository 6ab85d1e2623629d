using Svg2.Evaluation.Statistics;
using static TorchSharp.torch;

namespace Svg2.Tests.Workloads;

public class AttentionMassProfileTests
{
    [Theory]
    [InlineData(1L << 22)]
    [InlineData(50L)]
    public void MatchesBruteForceOnATinyInput(long maxChunkElements)
    {
        using var q = TestTensors.Normal(21, [2, 3, 40, 8]) * 2.5;
        using var k = TestTensors.Normal(22, [2, 3, 40, 8]) * 2.5;
        var heads = AttentionMassProfile.Compute(q, k, sampledQueries: 16, seed: 7, mass: 0.9, maxChunkElements: maxChunkElements);

        Assert.Equal(6, heads.Count);
        var qs = q.to(ScalarType.Float64).data<double>().ToArray();
        var ks = k.to(ScalarType.Float64).data<double>().ToArray();
        foreach (var head in heads)
        {
            Assert.Equal(16, head.QueryIndices.Distinct().Count());
            int offset = (head.Batch * 3 + head.Head) * 40 * 8;
            var expected = head.QueryIndices.Select(i => BruteForceKeys(qs, ks, offset, (int)i, 40, 8, 0.9)).ToArray();
            Assert.Equal(expected, head.KeysForMass);
            Assert.Equal(expected.Average(), head.Mean, 12);
            var sorted = expected.Order().ToArray();
            Assert.Equal((sorted[7] + sorted[8]) / 2.0, head.Median, 12);
        }
    }

    [Fact]
    public void UniformAttentionNeedsNinetyPercentOfTheKeys()
    {
        using var q = zeros(1, 2, 41, 16);
        using var k = TestTensors.Normal(3, [1, 2, 41, 16]);
        var heads = AttentionMassProfile.Compute(q, k, sampledQueries: 1000);
        Assert.All(heads, h =>
        {
            Assert.Equal(Enumerable.Range(0, 41).Select(i => (long)i), h.QueryIndices);
            Assert.All(h.KeysForMass, n => Assert.Equal(37, n)); // ceil(0.9 * 41)
            Assert.Equal(100.0 * 37 / 41, h.PercentOfKeys(h.Median), 9);
        });
    }

    [Fact]
    public void SampleIsSeeded()
    {
        using var q = TestTensors.Normal(1, [1, 1, 300, 8]);
        using var k = TestTensors.Normal(2, [1, 1, 300, 8]);
        var first = AttentionMassProfile.Compute(q, k, sampledQueries: 20, seed: 5)[0];
        var again = AttentionMassProfile.Compute(q, k, sampledQueries: 20, seed: 5)[0];
        var other = AttentionMassProfile.Compute(q, k, sampledQueries: 20, seed: 6)[0];
        Assert.Equal(first.QueryIndices, again.QueryIndices);
        Assert.NotEqual(first.QueryIndices, other.QueryIndices);
    }

    [Fact]
    public void PercentileInterpolatesBetweenRanks()
    {
        Assert.Equal(2.5, HeadMassStatistics.Percentile([4, 1, 3, 2], 0.5), 12);
        Assert.Equal(3.7, HeadMassStatistics.Percentile([4, 1, 3, 2], 0.9), 12);
        Assert.Throws<ArgumentException>(() => HeadMassStatistics.Percentile([], 0.5));
    }

    [Fact]
    public void BadInputIsRejected()
    {
        using var q = zeros(1, 2, 10, 8);
        Assert.Contains("[B, heads, S, D]", Assert.Throws<ArgumentException>(() => AttentionMassProfile.Compute(q, zeros(2, 10, 8))).Message);
        Assert.Contains("disagree", Assert.Throws<ArgumentException>(() => AttentionMassProfile.Compute(q, zeros(1, 3, 10, 8))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionMassProfile.Compute(q, q, mass: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionMassProfile.Compute(q, q, sampledQueries: 0));
    }

    private static long BruteForceKeys(double[] q, double[] k, int offset, int query, int tokens, int dim, double mass)
    {
        var scores = new double[tokens];
        for (int j = 0; j < tokens; j++)
        {
            double dot = 0;
            for (int d = 0; d < dim; d++) dot += q[offset + query * dim + d] * k[offset + j * dim + d];
            scores[j] = dot / Math.Sqrt(dim);
        }

        double max = scores.Max();
        var weights = scores.Select(s => Math.Exp(s - max)).ToArray();
        double total = weights.Sum();
        double cumulative = 0;
        long count = 0;
        foreach (var w in weights.OrderDescending())
        {
            cumulative += w / total;
            count++;
            if (cumulative >= mass) break;
        }

        return count;
    }
}
