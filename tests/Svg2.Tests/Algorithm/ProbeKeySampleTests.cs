using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Tests.Algorithm;

/// <summary>The key sample of a sampled routing probe, and the probe over it.</summary>
public class ProbeKeySampleTests
{
    [Fact]
    public void KeysAreSpreadOverEachClusterAndWeightedForTheRest()
    {
        // Clusters of 3, 0 and 7 rows, at most 2 keys each: the centres of 2 equal parts of each cluster.
        using var offsets = tensor(new long[] { 0, 3, 3, 10 }).unsqueeze(0);
        using var sample = ProbeKeySample.Of(offsets, 3, 2);
        Assert.Equal(new long[] { 0, 2, 4, 8, 0, 0 }, sample.Positions[0].data<long>().ToArray());
        Assert.Equal(new long[] { 0, 0, 2, 2, 0, 0 }, sample.Clusters[0].data<long>().ToArray());
        Assert.Equal(new long[] { 0, 2, 2, 4 }, sample.Offsets[0].data<long>().ToArray());
        Assert.Equal(new[] { Math.Log(1.5), 0, Math.Log(3.5) }, sample.LogWeights[0].data<float>().ToArray().Select(w => (double)w), new ToleranceComparer(1e-6));
    }

    [Fact]
    public void ClustersNoLargerThanTheSampleAreKeptWholeAtWeightOne()
    {
        using var offsets = tensor(new long[] { 0, 2, 5 }).unsqueeze(0);
        using var sample = ProbeKeySample.Of(offsets, 2, 4);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, sample.Positions[0].narrow(0, 0, 5).data<long>().ToArray());
        Assert.Equal(new long[] { 0, 2, 5 }, sample.Offsets[0].data<long>().ToArray());
        Assert.All(sample.LogWeights.data<float>().ToArray(), w => Assert.Equal(0f, w));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProbeKeySample.Of(offsets, 2, 0));
        Assert.Throws<ArgumentException>(() => ProbeKeySample.Of(offsets, 3, 2));
    }

    [Fact]
    public void ASampleBuiltElsewhereIsTakenInTheSameLayoutAndAWrongOneNamesItsShapes()
    {
        using var offsets = tensor(new long[] { 0, 3, 3, 10 }).unsqueeze(0);
        using var sample = ProbeKeySample.Of(offsets, 3, 2);
        using var copy = ProbeKeySample.FromParts(sample.Positions.clone(), sample.Clusters.clone(), sample.Offsets.clone(), sample.LogWeights.clone(), 2);
        Assert.Equal(sample.Positions.data<long>().ToArray(), copy.Positions.data<long>().ToArray());
        using var permutation = tensor(new long[] { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 }).unsqueeze(0);
        Assert.Equal(sample.Rows(permutation).data<long>().ToArray(), copy.Rows(permutation).data<long>().ToArray());
        var error = Assert.Throws<ArgumentException>(() => ProbeKeySample.FromParts(sample.Positions, sample.Clusters, sample.Offsets, sample.LogWeights, 3));
        Assert.Contains("[G, KC x 3]", error.Message);
        Assert.Throws<ArgumentException>(() => ProbeKeySample.FromParts(sample.Positions, sample.Clusters, sample.Offsets, sample.LogWeights.to(ScalarType.Float64), 2));
    }

    [Fact]
    public void EveryHeadOfALayoutIsSampledByTheRuleAndLaterClustersAreLeftOut()
    {
        // Random layouts of several heads with empty, small and large clusters, and two trailing clusters
        // (text) that are not sampled: every slot against the rule, written out per cluster.
        const int Heads = 3, Clusters = 40, PerCluster = 5;
        var random = new Random(17);
        var sizes = Enumerable.Range(0, Heads).Select(_ => Enumerable.Range(0, Clusters + 2).Select(_ => random.Next(4) == 0 ? 0 : random.Next(1, 30)).ToArray()).ToArray();
        var starts = sizes.Select(s => s.Aggregate(new List<long> { 0 }, (acc, n) => { acc.Add(acc[^1] + n); return acc; }).ToArray()).ToArray();
        using var offsets = tensor(starts.SelectMany(s => s).ToArray()).reshape(Heads, Clusters + 3);
        using var sample = ProbeKeySample.Of(offsets, Clusters, PerCluster);
        Assert.Equal(new long[] { Heads, Clusters * PerCluster }, sample.Positions.shape);
        for (int g = 0; g < Heads; g++)
        {
            var positions = sample.Positions[g].data<long>().ToArray();
            var clusters = sample.Clusters[g].data<long>().ToArray();
            var sampledOffsets = sample.Offsets[g].data<long>().ToArray();
            var weights = sample.LogWeights[g].data<float>().ToArray();
            var expected = new List<long>();
            var expectedClusters = new List<long>();
            for (int b = 0; b < Clusters; b++)
            {
                long n = sizes[g][b], m = Math.Min(n, PerCluster);
                Assert.Equal(expected.Count, sampledOffsets[b]);
                for (long i = 0; i < m; i++)
                {
                    expected.Add(starts[g][b] + (2 * i + 1) * n / (2 * m));
                    expectedClusters.Add(b);
                }
                Assert.Equal(m == 0 ? 0 : Math.Log((double)n / m), weights[b], 5);
            }
            Assert.Equal(expected.Count, sampledOffsets[Clusters]);
            Assert.Equal(expected, positions.Take(expected.Count));
            Assert.Equal(expectedClusters, clusters.Take(expected.Count));
            Assert.All(positions.Skip(expected.Count), p => Assert.Equal(0, p));
        }
        using var permutation = arange(2000, ScalarType.Int64).flip(0).expand(Heads, -1).contiguous();
        using var rows = sample.Rows(permutation);
        Assert.True(rows.eq(permutation.gather(1, sample.Positions)).all().item<bool>());
    }

    [Fact]
    public void ASampleAsLargeAsEveryClusterIsTheFullProbe()
    {
        var (k, v, layout, means) = Problem(seed: 40);
        long largest = layout.Sizes.max().item<long>();
        var full = CompensationErrorProbe.Estimate(k, v, layout, means);
        var sampled = CompensationErrorProbe.Estimate(k, v, layout, means, (int)largest);
        Assert.True(TestTensors.Same(full, sampled), "keeping every key must reproduce the full probe exactly");
    }

    [Fact]
    public void RoutingByASampledProbeLeavesAboutTheFullProbesError()
    {
        // Clustered video-like attention at Wan 720p-like cluster sizes (about 75 keys a key cluster) with per-row
        // compensation: computing exactly the quarter of the blocks that a probe of a fifth of each cluster's keys
        // ranks highest must leave nearly the error of the full probe's quarter, and far less than the quarter it
        // ranks lowest. (On clusters of a few keys a sample is too noisy: docs/quality.md.)
        using var sample = Svg2.Evaluation.Workloads.VideoLikeWorkload.Generate(Svg2.Evaluation.Workloads.VideoShape.Small, seed: 8);
        var options = new Svg2.Configuration.Svg2Options
        {
            QueryClusters = 18, KeyClusters = 61, InitIterations = 8, ScaleClusterCounts = false,
            Compensation = CompensationMode.PerRow, Routing = KeyClusterRouting.ErrorAware,
        };
        var attention = new Svg2.Attention.Svg2Attention(options);
        using var clustering = attention.Cluster(sample.Query, sample.Key, new Svg2.Attention.Svg2LayerState());
        var (q, k, v) = (Svg2.Attention.AttentionInputs.Flatten(sample.Query), Svg2.Attention.AttentionInputs.Flatten(sample.Key), Svg2.Attention.AttentionInputs.Flatten(sample.Value));
        using var means = attention.Means(q, k, v, clustering);
        long meanClusterKeys = k.shape[1] / options.KeyClusters;
        var full = attention.RoutingScores(k, v, clustering, means);
        var sampled = new Svg2.Attention.Svg2Attention(options with { ProbeKeysPerCluster = (int)(meanClusterKeys / 5) }).RoutingScores(k, v, clustering, means);
        var dense = Svg2.Attention.DenseAttention.Forward(q, k, v);
        double ErrorKeeping(Tensor scores, bool highest)
        {
            long groups = scores.shape[0], blocks = scores.shape[1] * scores.shape[2], kept = blocks / 4;
            var order = scores.reshape(groups, -1).argsort(-1, descending: highest);
            var mask = zeros([groups, blocks], ScalarType.Bool).scatter_(1, order.narrow(1, 0, kept), ones([groups, kept], ScalarType.Bool)).reshape(scores.shape);
            using var sparsity = new BlockSparsity(clustering.Query.Labels.alias(), clustering.Key.Labels.alias(), mask);
            return TestTensors.RelativeError(attention.Attend(q, k, v, sparsity, means), dense);
        }
        double byFull = ErrorKeeping(full, true), bySample = ErrorKeeping(sampled, true), lowest = ErrorKeeping(sampled, false);
        Assert.True(bySample < 1.5 * byFull, $"routed by the sampled probe {bySample:F5}, by the full probe {byFull:F5}");
        Assert.True(bySample < 0.5 * lowest, $"routed by the sampled probe {bySample:F5}, keeping its lowest-ranked quarter {lowest:F5}");
    }

    const int Groups = 2, Tokens = 512, Dim = 16, QueryClusters = 8, KeyClusters = 16;

    static (Tensor K, Tensor V, ClusterLayout Layout, ClusterMeans Means) Problem(int seed)
    {
        // Key clusters around distinct centres with a spread that makes compensation imperfect; values tied to keys.
        var keyLabels = TestTensors.LabelsWithEmptyClusters(seed, Groups, Tokens, KeyClusters);
        var centres = TestTensors.Normal(seed + 1, [Groups, KeyClusters, Dim]) * 2.0;
        var k = centres.gather(1, keyLabels.unsqueeze(-1).expand(Groups, Tokens, Dim)) + TestTensors.Normal(seed + 2, [Groups, Tokens, Dim]) * 0.7;
        var v = k.narrow(2, 0, Dim).flip(2) + TestTensors.Normal(seed + 3, [Groups, Tokens, Dim]) * 0.5;
        var q = TestTensors.Normal(seed + 4, [Groups, Tokens, Dim]);
        var queryLabels = TestTensors.LabelsWithEmptyClusters(seed + 5, Groups, Tokens, QueryClusters);
        return (k, v, ClusterPermutation.FromLabels(keyLabels, KeyClusters), ClusterMeans.Of(q, k, v, queryLabels, keyLabels, QueryClusters, KeyClusters));
    }

    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double value) => 0;
    }
}
