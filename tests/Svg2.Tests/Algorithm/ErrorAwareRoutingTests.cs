using Svg2.Algorithm;
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

    [Fact]
    public void ScoresAreFiniteNonNegativeAndZeroForEmptyKeyClusters()
    {
        var p = Problem(1);
        var scores = CompensationErrorProbe.Estimate(p.K, p.V, p.KeyLayout, p.Means);
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
        var scores = CompensationErrorProbe.Estimate(p.K, p.V, p.KeyLayout, p.Means);
        Assert.True(scores.select(2, 2).max().item<double>() < 1e-6 * scores.max().item<double>());
    }

    [Fact]
    public void TheEstimateFollowsTheErrorCompensationLeaves()
    {
        // On clustered video-like attention, skipping the blocks with the highest scores must cost more error
        // than skipping the same number further down the ranking.
        using var sample = Svg2.Evaluation.Workloads.VideoLikeWorkload.Generate(Svg2.Evaluation.Workloads.VideoShape.Tiny, seed: 6);
        var attention = new Svg2.Attention.Svg2Attention(new Svg2.Configuration.Svg2Options
        {
            QueryClusters = 12, KeyClusters = 32, InitIterations = 8, ScaleClusterCounts = false,
            Compensation = CompensationMode.PerRow, Routing = KeyClusterRouting.ErrorAware,
        });
        using var clustering = attention.Cluster(sample.Query, sample.Key, new Svg2.Attention.Svg2LayerState());
        var (q, k, v) = (Svg2.Attention.AttentionInputs.Flatten(sample.Query), Svg2.Attention.AttentionInputs.Flatten(sample.Key), Svg2.Attention.AttentionInputs.Flatten(sample.Value));
        using var means = attention.Means(q, k, v, clustering);
        var scores = attention.RoutingScores(k, v, clustering, means);
        long groups = scores.shape[0], blocks = scores.shape[1] * scores.shape[2];
        var all = ones_like(scores, ScalarType.Bool);
        var order = scores.reshape(groups, -1).argsort(-1, descending: true);
        double ErrorSkipping(long from, long count)
        {
            var skipped = zeros([groups, blocks], ScalarType.Bool).scatter_(1, order.narrow(1, from, count), ones([groups, count], ScalarType.Bool)).reshape(scores.shape);
            using var sparsity = new BlockSparsity(clustering.Query.Labels.alias(), clustering.Key.Labels.alias(), all & skipped.logical_not());
            return TestTensors.RelativeError(attention.Attend(q, k, v, sparsity, means), Svg2.Attention.DenseAttention.Forward(q, k, v));
        }
        long tenth = blocks / 10;
        double top = ErrorSkipping(0, tenth), middle = ErrorSkipping(4 * tenth, tenth), last = ErrorSkipping(9 * tenth, tenth);
        Assert.True(top > 3 * middle && middle > 3 * last, $"skipping the top tenth {top:F5}, the fifth {middle:F5}, the last {last:F5}");
    }

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
    [InlineData(0.0)]
    [InlineData(0.1)]
    [InlineData(0.25)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    public void TheMinimumIsTheHeadOfAStableDescendingSortEvenAmongTies(double ratio)
    {
        // Scores drawn from a few values (zeros among them, as empty and exactly compensated clusters give), so the
        // kept-th largest is tied in most rows; the kept clusters must be those a stable sort puts first.
        using var generator = TestTensors.Seeded(31);
        var scores = randint(0, 4, [Groups, QueryClusters, 40], generator: generator).to(ScalarType.Float64).pow(3);
        var rule = new ErrorRoutingRule(1e9, ratio);
        int kept = Math.Max(1, rule.MinimumKept(40));
        var order = scores.sort(-1, descending: true, stable: true).Indices;
        var expected = zeros_like(scores, ScalarType.Bool).scatter_(-1, order.narrow(-1, 0, kept), ones_like(order.narrow(-1, 0, kept), ScalarType.Bool));
        var selected = ErrorAwareSelection.Select(scores, rule);
        Assert.True(selected.eq(expected).all().item<bool>(), $"ratio {ratio}: {selected.ne(expected).sum().item<long>()} blocks differ from the stable sort's");
        Assert.True((selected.sum(-1) == kept).all().item<bool>());
    }

    [Fact]
    public void TheCentroidNormaliserMatchesItsDefinitionBlockByBlock()
    {
        // Per block, in float64 from the definitions: lse_a and o_a from the size-weighted softmax over the centroids,
        // E_ab = T_ab + (P_ab - w_ab)(v̄_b - o_a) with p_aj = exp(q̄_a . k_j s - lse_a) over b's keys.
        var p = Problem(3);
        var scores = CompensationErrorProbe.Estimate(p.K, p.V, p.KeyLayout, p.Means, normalisation: ProbeNormalisation.Centroid);
        double scale = 1 / Math.Sqrt(Dim);
        var keyLabels = p.KeyLayout.Permutation;   // permuted rows, read through the offsets below
        var offsets = p.KeyLayout.Offsets;
        var squaredError = zeros([Groups, QueryClusters, KeyClusters], ScalarType.Float64);
        var squaredOutput = zeros([Groups, QueryClusters], ScalarType.Float64);
        for (int g = 0; g < Groups; g++)
        {
            var queries = p.Means.QueryMeans[g].to(ScalarType.Float64);
            var centroids = p.Means.KeyMeans[g].to(ScalarType.Float64);
            var valueMeans = p.Means.ValueMeans[g].to(ScalarType.Float64);
            var sizes = p.Means.KeySizes[g].to(ScalarType.Float64);
            var clusterLogits = (queries.matmul(centroids.t()) * scale + sizes.log()).masked_fill(sizes.eq(0).unsqueeze(0), double.NegativeInfinity);
            var lse = clusterLogits.logsumexp(1, keepdim: true);
            var output = (clusterLogits - lse).exp().matmul(valueMeans);      // [QC, Dv]
            squaredOutput[g].copy_(output.square().sum(-1));
            for (int b = 0; b < KeyClusters; b++)
            {
                long from = offsets[g, b].item<long>(), to = offsets[g, b + 1].item<long>();
                if (to == from) continue;
                var rows = keyLabels[g].narrow(0, from, to - from);
                var keys = p.K[g].index_select(0, rows).to(ScalarType.Float64);
                var values = p.V[g].index_select(0, rows).to(ScalarType.Float64);
                var probabilities = (queries.matmul(keys.t()) * scale - lse).exp();   // [QC, n_b]
                var spread = probabilities.matmul(values - valueMeans[b]);            // T_ab
                var gap = probabilities.sum(-1, keepdim: true) - (clusterLogits.narrow(1, b, 1) - lse).exp();
                squaredError[g].select(1, b).copy_((spread + gap * (valueMeans[b] - output)).square().sum(-1));
            }
        }
        var expected = CompensationErrorProbe.Scores(squaredError, squaredOutput, p.Means.QuerySizes, p.Means.KeySizes, Tokens);
        Assert.True(expected.max().item<double>() > 0);
        double worst = ((scores - expected).abs() / expected.abs().clamp_min(1e-12 * expected.max().item<double>())).max().item<double>();
        Assert.True(worst < 1e-4, $"largest relative gap {worst}");
    }

    [Fact]
    public void TheCentroidNormaliserDiffersWithLargerClustersAndKeepsTheScoresWellFormed()
    {
        var p = Problem(1);
        var exact = CompensationErrorProbe.Estimate(p.K, p.V, p.KeyLayout, p.Means);
        var centroid = CompensationErrorProbe.Estimate(p.K, p.V, p.KeyLayout, p.Means, normalisation: ProbeNormalisation.Centroid);
        Assert.True(centroid.isfinite().all().item<bool>());
        Assert.True((centroid >= 0).all().item<bool>());
        Assert.True((centroid.select(2, 5) == 0).all().item<bool>(), "the empty key cluster still scores nothing");
        Assert.True((centroid - exact).abs().max().item<double>() > 1e-6 * exact.max().item<double>(), "a different normaliser must change the scores");
    }

    [Fact]
    public void AnEmptyQueryClusterScoresNothing()
    {
        var q = TestTensors.Normal(40, [Groups, Tokens, Dim]);
        var (k, v) = (TestTensors.Normal(41, [Groups, Tokens, Dim]), TestTensors.Normal(42, [Groups, Tokens, Dim]));
        var queryLabels = TestTensors.LabelsWithEmptyClusters(43, Groups, Tokens, QueryClusters, 4);
        var keyLabels = TestTensors.LabelsWithEmptyClusters(44, Groups, Tokens, KeyClusters);
        var means = ClusterMeans.Of(q, k, v, queryLabels, keyLabels, QueryClusters, KeyClusters);
        var scores = CompensationErrorProbe.Estimate(k, v, ClusterPermutation.FromLabels(keyLabels, KeyClusters), means);
        Assert.True((scores.select(1, 4) == 0).all().item<bool>());
        Assert.True((scores.select(1, 3) > 0).any().item<bool>());
    }

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
