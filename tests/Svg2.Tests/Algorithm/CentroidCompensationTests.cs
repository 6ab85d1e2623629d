using Svg2.Algorithm;
using Svg2.Attention;
using static TorchSharp.torch;

namespace Svg2.Tests.Algorithm;

/// <summary>The attention stage with centroid compensation, against float64 computations written out here.</summary>
public class CentroidCompensationTests
{
    const int Groups = 2, Tokens = 24, Dim = 8, QueryClusters = 3, KeyClusters = 5;
    static readonly double Scale = 1 / Math.Sqrt(Dim);

    sealed record Problem(Tensor Q, Tensor K, Tensor V, Tensor QueryLabels, Tensor KeyLabels, ClusterLayout QueryLayout, ClusterLayout KeyLayout, ClusterMeans Means);

    static Problem Make(int seed, int[]? emptyKeyClusters = null, Tensor? k = null, Tensor? v = null, Tensor? keyLabels = null)
    {
        var q = TestTensors.Normal(seed, [Groups, Tokens, Dim]) * 1.5;
        k ??= TestTensors.Normal(seed + 1, [Groups, Tokens, Dim]) * 1.5;
        v ??= TestTensors.Normal(seed + 2, [Groups, Tokens, Dim]);
        var queryLabels = TestTensors.LabelsWithEmptyClusters(seed + 3, Groups, Tokens, QueryClusters);
        keyLabels ??= TestTensors.LabelsWithEmptyClusters(seed + 4, Groups, Tokens, KeyClusters, emptyKeyClusters ?? []);
        return new Problem(q, k, v, queryLabels, keyLabels, ClusterPermutation.FromLabels(queryLabels, QueryClusters),
            ClusterPermutation.FromLabels(keyLabels, KeyClusters), ClusterMeans.Of(q, k, v, queryLabels, keyLabels, QueryClusters, KeyClusters));
    }

    static Tensor RandomMask(int seed, double keep)
    {
        using var generator = TestTensors.Seeded(seed);
        return rand([Groups, QueryClusters, KeyClusters], generator: generator) < keep;
    }

    static Tensor Compensated(Problem p, Tensor mask, CompensationMode mode, Tensor? blocks = null, ClusterMeans? means = null, Tensor? tail = null) =>
        VariableBlockAttention.Forward(p.Q, p.K, p.V, p.QueryLayout, p.KeyLayout, mask, Scale,
            new CentroidCompensation(mode, means ?? p.Means, blocks ?? ones_like(mask), tail));

    /// <summary><see cref="Compensated"/> with every head run by one strategy.</summary>
    static Tensor CompensatedBy(BlockAttentionStrategy strategy, Problem p, Tensor mask, CentroidCompensation compensation) =>
        VariableBlockAttention.Forward(p.Q, p.K, p.V, p.QueryLayout, p.KeyLayout, mask, Scale, compensation, (_, _) => strategy);

    /// <summary>
    /// Each row's softmax over its exact keys plus one term per compensated cluster (logit s + log n_b,
    /// value v̄_b), with the means taken in float64 from the labels directly; per row, the blocks of
    /// <paramref name="tail"/> take the query cluster mean's score.
    /// </summary>
    static double[,,] Expected(Problem p, bool[] mask, CompensationMode mode, bool[]? tail = null)
    {
        var q = p.Q.to(ScalarType.Float64).data<double>().ToArray();
        var k = p.K.to(ScalarType.Float64).data<double>().ToArray();
        var v = p.V.to(ScalarType.Float64).data<double>().ToArray();
        var ql = TestTensors.Longs(p.QueryLabels);
        var kl = TestTensors.Longs(p.KeyLabels);
        var result = new double[Groups, Tokens, Dim];
        for (int g = 0; g < Groups; g++)
        {
            (double[] Mean, int Members) Mean(double[] x, long[] labels, int cluster)
            {
                var sum = new double[Dim];
                int members = 0;
                for (int t = 0; t < Tokens; t++)
                {
                    if (labels[g * Tokens + t] != cluster) continue;
                    members++;
                    for (int d = 0; d < Dim; d++) sum[d] += x[(g * Tokens + t) * Dim + d];
                }
                return (sum.Select(s => members == 0 ? 0 : s / members).ToArray(), members);
            }
            double Dot(double[] a, double[] x, int row)
            {
                double sum = 0;
                for (int d = 0; d < Dim; d++) sum += a[d] * x[(g * Tokens + row) * Dim + d];
                return sum;
            }
            for (int i = 0; i < Tokens; i++)
            {
                int a = (int)ql[g * Tokens + i];
                var row = Enumerable.Range(0, Dim).Select(d => q[(g * Tokens + i) * Dim + d]).ToArray();
                var terms = new List<(double Logit, double[] Value)>();
                for (int j = 0; j < Tokens; j++)
                    if (mask[(g * QueryClusters + a) * KeyClusters + kl[g * Tokens + j]])
                        terms.Add((Dot(row, k, j) * Scale, Enumerable.Range(0, Dim).Select(d => v[(g * Tokens + j) * Dim + d]).ToArray()));
                for (int b = 0; b < KeyClusters; b++)
                {
                    if (mask[(g * QueryClusters + a) * KeyClusters + b]) continue;
                    var (centroid, members) = Mean(k, kl, b);
                    if (members == 0) continue;
                    bool perRow = mode == CompensationMode.PerRow && tail?[(g * QueryClusters + a) * KeyClusters + b] != true;
                    var scorer = perRow ? row : Mean(q, ql, a).Mean;
                    double score = scorer.Zip(centroid, (x, c) => x * c).Sum() * Scale;
                    terms.Add((score + Math.Log(members), Mean(v, kl, b).Mean));
                }
                if (terms.Count == 0) continue;
                double max = terms.Max(t => t.Logit);
                double total = terms.Sum(t => Math.Exp(t.Logit - max));
                foreach (var (logit, value) in terms)
                    for (int d = 0; d < Dim; d++) result[g, i, d] += Math.Exp(logit - max) / total * value[d];
            }
        }
        return result;
    }

    static double RelativeError(Tensor actual, double[,,] expected) =>
        TestTensors.RelativeError(actual, tensor(expected.Cast<double>().ToArray()).reshape(Groups, Tokens, Dim));

    [Theory]
    [InlineData(CompensationMode.PerRow)]
    [InlineData(CompensationMode.PerQueryCluster)]
    public void BothVariantsMatchTheCompensationWrittenOutInFloat64(CompensationMode mode)
    {
        var p = Make(10, emptyKeyClusters: [3]);
        var mask = RandomMask(11, 0.4);
        var expected = Expected(p, TestTensors.Bools(mask), mode);
        Assert.True(RelativeError(Compensated(p, mask, mode), expected) < 1e-5);
        // The two variants differ: per row, each query's own score; per cluster, its cluster mean's.
        var other = mode == CompensationMode.PerRow ? CompensationMode.PerQueryCluster : CompensationMode.PerRow;
        Assert.True(RelativeError(Compensated(p, mask, other), expected) > 1e-3);
    }

    /// <summary>
    /// What the CUDA kernels do with per-query-cluster compensation, written out in float64: each row's
    /// exact softmax over its selected keys merged at the end with its cluster's one folded term
    /// (weight 2^Log2Weight, value Value). It must equal the compensation of every skipped cluster.
    /// </summary>
    [Fact]
    public void ClusterTermsMergedIntoTheExactSoftmaxEqualPerQueryClusterCompensation()
    {
        var p = Make(80, emptyKeyClusters: [2]);
        var mask = RandomMask(81, 0.4);
        // Query cluster 1 of group 0 computes nothing exactly, query cluster 0 of group 1 everything.
        mask[0, 1].fill_(false);
        mask[1, 0].fill_(true);
        var compensation = new CentroidCompensation(CompensationMode.PerQueryCluster, p.Means, ones_like(mask));
        using var terms = compensation.ClusterTerms(mask, Scale);

        var elementMask = mask.gather(1, p.QueryLabels.unsqueeze(-1).expand(-1, -1, KeyClusters)).gather(2, p.KeyLabels.unsqueeze(1).expand(-1, Tokens, -1));
        var logits = (p.Q.to(ScalarType.Float64).bmm(p.K.to(ScalarType.Float64).transpose(1, 2)) * Scale).masked_fill(elementMask.logical_not(), double.NegativeInfinity);
        var termLogit = (terms.Log2Weight.to(ScalarType.Float64) * Math.Log(2)).gather(1, p.QueryLabels).unsqueeze(-1);
        var termValue = terms.Value.to(ScalarType.Float64).gather(1, p.QueryLabels.unsqueeze(-1).expand(-1, -1, Dim));
        var top = maximum(logits.amax([-1], keepdim: true), termLogit);
        var exact = (logits - top).exp();
        var approximated = (termLogit - top).exp();
        var merged = (exact.bmm(p.V.to(ScalarType.Float64)) + approximated * termValue) / (exact.sum([-1], keepdim: true) + approximated);

        var expected = Expected(p, TestTensors.Bools(mask), CompensationMode.PerQueryCluster);
        Assert.True(RelativeError(merged, expected) < 1e-5);
        // A query cluster that skips nothing has no term: weight -inf and a zero value.
        Assert.True(double.IsNegativeInfinity(terms.Log2Weight[1, 0].item<float>()));
        Assert.True((terms.Value[1, 0] == 0).all().item<bool>());
        Assert.True(terms.Log2Weight[0, 1].isfinite().item<bool>());
    }

    [Fact]
    public void NonFiniteMeansReachOnlyTheClusterTermsThatFoldTheirCluster()
    {
        var p = Make(95);
        var nan = p.Means with { KeyMeans = p.Means.KeyMeans.clone(), ValueMeans = p.Means.ValueMeans.clone() };
        nan.KeyMeans.select(1, 2).fill_(double.NaN);
        nan.ValueMeans.select(1, 2).fill_(double.NaN);
        // Query cluster 0 computes cluster 2 exactly, query cluster 1 approximates it, query cluster 2 computes everything.
        var mask = zeros([Groups, QueryClusters, KeyClusters], ScalarType.Bool);
        mask.select(1, 0).narrow(1, 0, 3).fill_(true);
        mask.select(1, 1).narrow(1, 0, 2).fill_(true);
        mask.select(1, 2).fill_(true);
        using var terms = new CentroidCompensation(CompensationMode.PerQueryCluster, nan, ones_like(mask)).ClusterTerms(mask, Scale);
        var nanClusters = terms.Log2Weight.isnan() | terms.Value.isnan().any(-1);
        var expected = zeros([Groups, QueryClusters], ScalarType.Bool);
        expected.select(1, 1).fill_(true);
        Assert.Equal(TestTensors.Bools(expected), TestTensors.Bools(nanClusters));
    }

    [Fact]
    public void ClusterTermsPaddedForTextClustersApproximateNothing()
    {
        var p = Make(90);
        var mask = RandomMask(91, 0.3);
        using var terms = new CentroidCompensation(CompensationMode.PerQueryCluster, p.Means, ones_like(mask)).ClusterTerms(mask, Scale);
        using var padded = terms.PadTo(QueryClusters + 2);
        Assert.Equal(new long[] { Groups, QueryClusters + 2 }, padded.Log2Weight.shape);
        Assert.Equal(new long[] { Groups, QueryClusters + 2, Dim }, padded.Value.shape);
        Assert.True(padded.Log2Weight.narrow(1, QueryClusters, 2).isneginf().all().item<bool>());
        Assert.True((padded.Value.narrow(1, QueryClusters, 2) == 0).all().item<bool>());
        Assert.True(padded.Log2Weight.narrow(1, 0, QueryClusters).eq(terms.Log2Weight).all().item<bool>());
        Assert.Null(new CentroidCompensation(CompensationMode.PerRow, p.Means, ones_like(mask)).ClusterTerms(mask, Scale));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PerRowWithATailMatchesTheMixWrittenOutInFloat64(bool masked)
    {
        var strategy = masked ? BlockAttentionStrategy.Masked : BlockAttentionStrategy.Gathered;
        var p = Make(40, emptyKeyClusters: [4]);
        var mask = RandomMask(41, 0.3);
        using var generator = TestTensors.Seeded(42);
        var tail = rand([Groups, QueryClusters, KeyClusters], generator: generator) < 0.5;
        var expected = Expected(p, TestTensors.Bools(mask), CompensationMode.PerRow, TestTensors.Bools(tail));
        var output = CompensatedBy(strategy, p, mask, new CentroidCompensation(CompensationMode.PerRow, p.Means, ones_like(mask), tail));
        Assert.True(RelativeError(output, expected) < 1e-5);
        // The tail changes the output: without it every skipped block takes each row's own score.
        Assert.True(RelativeError(Compensated(p, mask, CompensationMode.PerRow), expected) > 1e-4);
    }

    [Fact]
    public void ATailOfEveryBlockIsPerQueryClusterCompensationAndAnEmptyOneIsPerRow()
    {
        var p = Make(50);
        var mask = RandomMask(51, 0.35);
        var everything = ones_like(mask);
        Assert.True(TestTensors.RelativeError(Compensated(p, mask, CompensationMode.PerRow, tail: everything),
            Compensated(p, mask, CompensationMode.PerQueryCluster)) < 1e-6);
        Assert.True(TestTensors.RelativeError(Compensated(p, mask, CompensationMode.PerRow, tail: zeros_like(mask)),
            Compensated(p, mask, CompensationMode.PerRow)) < 1e-6);
    }

    [Fact]
    public void RowAndClusterBlocksSplitTheSkippedBlocksByTheTail()
    {
        var p = Make(60);
        var mask = RandomMask(61, 0.4);
        using var generator = TestTensors.Seeded(62);
        var tail = rand([Groups, QueryClusters, KeyClusters], generator: generator) < 0.5;
        var blocks = rand([Groups, QueryClusters, KeyClusters], generator: generator) < 0.8;
        var compensation = new CentroidCompensation(CompensationMode.PerRow, p.Means, blocks, tail);
        using var rows = compensation.RowBlocks(mask)!;
        using var clusters = compensation.ClusterBlocks(mask)!;
        var skipped = blocks & mask.logical_not();
        Assert.True(rows.eq(skipped & tail.logical_not()).all().item<bool>());
        Assert.True(clusters.eq(skipped & tail).all().item<bool>());
        // Per query cluster every skipped block is folded; per row without a tail, none is.
        var perCluster = new CentroidCompensation(CompensationMode.PerQueryCluster, p.Means, blocks);
        Assert.Null(perCluster.RowBlocks(mask));
        Assert.True(perCluster.ClusterBlocks(mask)!.eq(skipped).all().item<bool>());
        Assert.Null(new CentroidCompensation(CompensationMode.PerRow, p.Means, blocks).ClusterBlocks(mask));
        // A tail goes with per-row compensation only, and must match the mask's shape.
        Assert.Throws<ArgumentException>(() => new CentroidCompensation(CompensationMode.PerQueryCluster, p.Means, blocks, tail).Validate(mask, Dim));
        Assert.Throws<ArgumentException>(() => new CentroidCompensation(CompensationMode.PerRow, p.Means, blocks, tail.narrow(2, 0, 2)).Validate(mask, Dim));
    }

    [Fact]
    public void WithEveryClusterSelectedCompensationLeavesExactAttention()
    {
        var p = Make(20);
        var all = ones([Groups, QueryClusters, KeyClusters], ScalarType.Bool);
        var dense = TestTensors.MaskedAttention64(p.Q, p.K, p.V, ones([Groups, Tokens, Tokens], ScalarType.Bool), Scale);
        Assert.True(TestTensors.RelativeError(Compensated(p, all, CompensationMode.PerRow), dense) < 1e-5);
        Assert.True(TestTensors.RelativeError(Compensated(p, all, CompensationMode.PerQueryCluster), dense) < 1e-5);
    }

    [Fact]
    public void AClusterOfEqualKeysAndEqualValuesIsCompensatedExactly()
    {
        var labels = TestTensors.LabelsWithEmptyClusters(34, Groups, Tokens, KeyClusters);
        var inCluster1 = (labels == 1).unsqueeze(-1);
        var k = where(inCluster1, TestTensors.Normal(35, [Groups, 1, Dim]).expand(Groups, Tokens, Dim), TestTensors.Normal(31, [Groups, Tokens, Dim]) * 1.5);
        var v = where(inCluster1, TestTensors.Normal(36, [Groups, 1, Dim]).expand(Groups, Tokens, Dim), TestTensors.Normal(32, [Groups, Tokens, Dim]));
        var p = Make(30, k: k, v: v, keyLabels: labels);
        var mask = ones([Groups, QueryClusters, KeyClusters], ScalarType.Bool);
        mask.select(2, 1).fill_(false);
        var dense = TestTensors.MaskedAttention64(p.Q, k, v, ones([Groups, Tokens, Tokens], ScalarType.Bool), Scale);
        Assert.True(TestTensors.RelativeError(Compensated(p, mask, CompensationMode.PerRow), dense) < 1e-5);
        // Dropping the cluster instead is far off.
        var dropped = VariableBlockAttention.Forward(p.Q, k, v, p.QueryLayout, p.KeyLayout, mask, Scale);
        Assert.True(TestTensors.RelativeError(dropped, dense) > 1e-2);
    }

    [Fact]
    public void OnlyTheListedBlocksAreCompensated()
    {
        var p = Make(40);
        var mask = RandomMask(41, 0.3);
        var none = zeros_like(mask);
        var plain = VariableBlockAttention.Forward(p.Q, p.K, p.V, p.QueryLayout, p.KeyLayout, mask, Scale);
        Assert.True(TestTensors.RelativeError(Compensated(p, mask, CompensationMode.PerRow, blocks: none), plain) < 1e-6);
    }

    [Fact]
    public void NonFiniteMeansReachOnlyTheRowsThatCompensateTheirCluster()
    {
        var p = Make(50, emptyKeyClusters: [4]);
        var nan = p.Means with { KeyMeans = p.Means.KeyMeans.clone(), ValueMeans = p.Means.ValueMeans.clone() };
        // Cluster 2: NaN centroid and mean value; cluster 4 is empty and NaN too.
        foreach (int b in new[] { 2, 4 })
        {
            nan.KeyMeans.select(1, b).fill_(double.NaN);
            nan.ValueMeans.select(1, b).fill_(double.NaN);
        }
        // Query cluster 0 computes cluster 2 exactly, query cluster 1 compensates it, query cluster 2 computes everything.
        var mask = zeros([Groups, QueryClusters, KeyClusters], ScalarType.Bool);
        mask.select(1, 0).narrow(1, 0, 3).fill_(true);
        mask.select(1, 1).narrow(1, 0, 2).fill_(true);
        mask.select(1, 2).fill_(true);
        var output = Compensated(p, mask, CompensationMode.PerRow, means: nan);
        var rowNaN = output.isnan().any(-1);
        Assert.Equal(TestTensors.Bools(p.QueryLabels == 1), TestTensors.Bools(rowNaN));
    }

    [Fact]
    public void ClusterMeansAreMemberMeansAndEmptyClustersAreZero()
    {
        var p = Make(60, emptyKeyClusters: [1]);
        var members = (p.KeyLabels == 2).unsqueeze(-1).to(ScalarType.Float32);
        var expected = (p.V * members).sum(1) / members.sum(1);
        Assert.True(TestTensors.RelativeError(p.Means.ValueMeans.select(1, 2), expected) < 1e-6);
        Assert.True((p.Means.KeyMeans.select(1, 1) == 0).all().item<bool>());
        Assert.True((p.Means.KeySizes.select(1, 1) == 0).all().item<bool>());
        Assert.Equal(Tokens * Groups, p.Means.KeySizes.sum().item<long>());
    }

    [Fact]
    public void RejectsMeansThatDoNotFitTheMask()
    {
        var p = Make(70);
        var mask = ones([Groups, QueryClusters, KeyClusters + 1], ScalarType.Bool);
        var layout = ClusterPermutation.FromLabels(p.KeyLabels, KeyClusters + 1);
        var error = Assert.Throws<ArgumentException>(() => VariableBlockAttention.Forward(p.Q, p.K, p.V, p.QueryLayout, layout, mask, Scale,
            new CentroidCompensation(CompensationMode.PerRow, p.Means, mask)));
        Assert.Contains("Cluster means cover", error.Message);
    }
}
