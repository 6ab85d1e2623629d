using Svg2.Algorithm;
using Svg2.Statistics;
using static TorchSharp.torch;

namespace Svg2.Tests.Algorithm;

/// <summary>The routing probe's error estimate and the cut it feeds.</summary>
public class ErrorAwareRoutingTests
{
    const int Groups = 2, Tokens = 96, Dim = 8, QueryClusters = 6, KeyClusters = 12;

    static (Tensor Q, Tensor K, Tensor V, ClusterLayout QueryLayout, ClusterLayout KeyLayout, ClusterMeans Means) Problem(int seed, Func<Tensor, Tensor, (Tensor K, Tensor V)>? shape = null)
    {
        var q = TestTensors.Normal(seed, [Groups, Tokens, Dim]) * 1.5;
        var queryLabels = TestTensors.LabelsWithEmptyClusters(seed + 3, Groups, Tokens, QueryClusters);
        var keyLabels = TestTensors.LabelsWithEmptyClusters(seed + 4, Groups, Tokens, KeyClusters, 5);
        var (k, v) = (TestTensors.Normal(seed + 1, [Groups, Tokens, Dim]) * 1.5, TestTensors.Normal(seed + 2, [Groups, Tokens, Dim]));
        if (shape is not null) (k, v) = shape(keyLabels, k);
        return (q, k, v, ClusterPermutation.FromLabels(queryLabels, QueryClusters), ClusterPermutation.FromLabels(keyLabels, KeyClusters),
            ClusterMeans.Of(q, k, v, queryLabels, keyLabels, QueryClusters, KeyClusters));
    }

    [Theory]
    [InlineData(CompensationMode.PerRow)]
    [InlineData(CompensationMode.PerQueryCluster)]
    public void ScoresAreFiniteNonNegativeAndZeroForEmptyKeyClusters(CompensationMode mode)
    {
        var p = Problem(1);
        var scores = CompensationErrorProbe.Estimate(p.Q, p.K, p.V, p.QueryLayout, p.KeyLayout, p.Means, mode, rowsPerCluster: 3);
        Assert.Equal(new long[] { Groups, QueryClusters, KeyClusters }, scores.shape);
        Assert.True(scores.isfinite().all().item<bool>());
        Assert.True((scores >= 0).all().item<bool>());
        Assert.True((scores.select(2, 5) == 0).all().item<bool>(), "the empty key cluster costs and errs nothing");
        Assert.True(scores.max().item<double>() > 0);
    }

    [Fact]
    public void AClusterThatCompensationRepresentsExactlyScoresNothing()
    {
        // Key cluster 2 holds equal keys and equal values: per-row compensation reproduces it exactly.
        var p = Problem(10, (labels, k) =>
        {
            var inCluster = (labels == 2).unsqueeze(-1);
            return (where(inCluster, TestTensors.Normal(11, [Groups, 1, Dim]).expand(Groups, Tokens, Dim), k),
                    where(inCluster, TestTensors.Normal(12, [Groups, 1, Dim]).expand(Groups, Tokens, Dim), TestTensors.Normal(13, [Groups, Tokens, Dim])));
        });
        var scores = CompensationErrorProbe.Estimate(p.Q, p.K, p.V, p.QueryLayout, p.KeyLayout, p.Means, CompensationMode.PerRow, rowsPerCluster: 2);
        Assert.True(scores.select(2, 2).max().item<double>() < 1e-6 * scores.max().item<double>());
    }

    [Fact]
    public void TheEstimateFollowsTheErrorCompensationLeaves()
    {
        // Across blocks, skipping the blocks with the highest scores must cost more error than skipping the lowest.
        var p = Problem(20);
        var scores = CompensationErrorProbe.Estimate(p.Q, p.K, p.V, p.QueryLayout, p.KeyLayout, p.Means, CompensationMode.PerRow, rowsPerCluster: 4);
        double scale = 1 / Math.Sqrt(Dim);
        var all = ones([Groups, QueryClusters, KeyClusters], ScalarType.Bool);
        var dense = VariableBlockAttention(p, all, scale);
        double ErrorSkipping(Tensor skipped) =>
            TestTensors.RelativeError(VariableBlockAttention(p, all & skipped.logical_not(), scale, new CentroidCompensation(CompensationMode.PerRow, p.Means, all)), dense);
        var order = scores.reshape(Groups, -1).argsort(-1, descending: true);
        Tensor Skip(long from, long count) =>
            zeros([Groups, QueryClusters * KeyClusters], ScalarType.Bool).scatter_(1, order.narrow(1, from, count), ones([Groups, count], ScalarType.Bool)).reshape(Groups, QueryClusters, KeyClusters);
        long quarter = QueryClusters * KeyClusters / 4;
        double top = ErrorSkipping(Skip(0, quarter)), middle = ErrorSkipping(Skip(2 * quarter, quarter)), last = ErrorSkipping(Skip(3 * quarter, quarter));
        Assert.True(top > 1.5 * middle && middle > last, $"skipping the top quarter {top:F4}, the third {middle:F4}, the last {last:F4}");
    }

    static Tensor VariableBlockAttention((Tensor Q, Tensor K, Tensor V, ClusterLayout QueryLayout, ClusterLayout KeyLayout, ClusterMeans Means) p, Tensor mask, double scale,
        CentroidCompensation? compensation = null) =>
        Svg2.Attention.VariableBlockAttention.Forward(p.Q, p.K, p.V, p.QueryLayout, p.KeyLayout, mask, scale, compensation);

    [Fact]
    public void TheCutKeepsEveryQueryClustersMinimumAndGrowsAsTheThresholdFalls()
    {
        using var generator = TestTensors.Seeded(30);
        var scores = rand([Groups, QueryClusters, KeyClusters], generator: generator).pow(4);
        var floor = new ErrorRoutingRule(1e9, 0.25);
        var atFloor = ErrorAwareSelection.Select(scores, floor);
        Assert.True((atFloor.sum(-1) == 3).all().item<bool>(), "floor(0.25 x 12) = 3 clusters each, the best-scoring ones");
        var best = scores.topk(3, -1).indexes;
        Assert.True(atFloor.gather(-1, best).all().item<bool>());
        Assert.True((ErrorAwareSelection.Select(scores, floor with { MinKeyClusterRatio = 0 }).sum(-1) == 1).all().item<bool>(), "the best cluster is always kept");
        Assert.True(ErrorAwareSelection.Select(scores, new ErrorRoutingRule(0, 0)).all().item<bool>(), "threshold 0 keeps every block");
        long previous = 0;
        foreach (double threshold in new[] { 0.5, 0.1, 0.01, 0.001 })
        {
            long kept = ErrorAwareSelection.Select(scores, new ErrorRoutingRule(threshold, 0.1)).sum().item<long>();
            Assert.True(kept >= previous);
            previous = kept;
        }
        Assert.Equal(1.0, SelectionFloor.Share(atFloor, 3).mean().item<double>());
    }

    [Theory]
    [InlineData(4608, 300, 2)]   // small: 15-token clusters
    [InlineData(511, 63, 2)]     // MiniLM: 8-token clusters
    [InlineData(4608, 18, 8)]    // 256-token clusters
    [InlineData(75600, 300, 8)]  // Wan 720p: 252-token clusters
    public void ProbedRowsGrowWithTheQueryClusters(long tokens, long clusters, int rows) =>
        Assert.Equal(rows, CompensationErrorProbe.DefaultRowsPerCluster(tokens, clusters));

    [Fact]
    public void LevelAndThresholdAreInverse()
    {
        Assert.Equal(double.PositiveInfinity, new ErrorRoutingRule(0, 0).Level);
        Assert.Equal(-3, new ErrorRoutingRule(1000, 0).Level, 12);
        Assert.Equal(1.0, ErrorRoutingRule.ThresholdAt(5) * 1e5, 12);
        Assert.Equal(0, ErrorRoutingRule.ThresholdAt(ErrorRoutingRule.LevelRange.Max));
        Assert.Throws<ArgumentException>(() => ErrorRoutingRule.ThresholdAt(double.NaN));
        Assert.Throws<ArgumentException>(() => ErrorAwareSelection.Select(zeros(1, 2, 3), new ErrorRoutingRule(-1, 0)));
    }
}
