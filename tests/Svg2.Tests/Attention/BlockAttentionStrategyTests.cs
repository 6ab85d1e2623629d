using Svg2.Algorithm;
using Svg2.Attention;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention;

/// <summary>
/// The two strategies of the reference attention stage (gathering the selected keys, masking the others
/// in a dense product) against each other and against float64 attention under the element mask, and the
/// rule that picks between them.
/// </summary>
public class BlockAttentionStrategyTests
{
    const int Groups = 3, QueryTokens = 700, KeyTokens = 530, Dim = 16, QueryClusters = 9, KeyClusters = 14;
    static readonly double Scale = 1 / Math.Sqrt(Dim);

    sealed record Problem(Tensor Q, Tensor K, Tensor V, Tensor QueryLabels, Tensor KeyLabels, ClusterLayout QueryLayout, ClusterLayout KeyLayout, Tensor Mask)
    {
        public Tensor Run(BlockAttentionStrategy strategy, double scale, CentroidCompensation? compensation = null) =>
            VariableBlockAttention.Forward(Q, K, V, QueryLayout, KeyLayout, Mask, scale, compensation, (_, _) => strategy);

        /// <summary>[G, Nq, Nk]: whether query i reads key j.</summary>
        public Tensor ElementMask()
        {
            var rows = Mask.gather(1, QueryLabels.unsqueeze(-1).expand(-1, -1, KeyClusters));
            return rows.gather(2, KeyLabels.unsqueeze(1).expand(-1, QueryLabels.shape[1], -1));
        }
    }

    /// <summary>
    /// Uneven cluster sizes (labels drawn from a skewed distribution), query cluster 2 and key clusters 3 and 7
    /// empty, query cluster 0 selecting nothing and query cluster 1 selecting only the empty key clusters.
    /// </summary>
    static Problem Make(int seed, long valueDim = Dim, double keep = 0.5)
    {
        var q = TestTensors.Normal(seed, [Groups, QueryTokens, Dim]) * 1.5;
        var k = TestTensors.Normal(seed + 1, [Groups, KeyTokens, Dim]) * 1.5;
        var v = TestTensors.Normal(seed + 2, [Groups, KeyTokens, valueDim]);
        var queryLabels = SkewedLabels(seed + 3, QueryTokens, QueryClusters, [2]);
        var keyLabels = SkewedLabels(seed + 4, KeyTokens, KeyClusters, [3, 7]);
        using var generator = TestTensors.Seeded(seed + 5);
        var mask = rand([Groups, QueryClusters, KeyClusters], generator: generator) < keep;
        mask.select(1, 0).fill_(false);
        mask.select(1, 1).fill_(false);
        mask.select(1, 1).select(1, 3).fill_(true);
        mask.select(1, 1).select(1, 7).fill_(true);
        return new Problem(q, k, v, queryLabels, keyLabels, ClusterPermutation.FromLabels(queryLabels, QueryClusters),
            ClusterPermutation.FromLabels(keyLabels, KeyClusters), mask);
    }

    /// <summary>Labels in [0, clusters) with weights 1, 2, 3, ... (sizes from a few to many rows), the listed clusters left empty.</summary>
    static Tensor SkewedLabels(int seed, long tokens, int clusters, int[] empty)
    {
        using var generator = TestTensors.Seeded(seed);
        var weights = tensor(Enumerable.Range(0, clusters).Select(c => empty.Contains(c) ? 0f : c + 1f).ToArray());
        return multinomial(weights.unsqueeze(0).expand(Groups, -1), tokens, replacement: true, generator: generator);
    }

    static void AssertRowsWithoutKeysAreZero(Problem p, Tensor output)
    {
        var noKey = p.ElementMask().any(2).logical_not();
        Assert.True(noKey.any().item<bool>(), "the problem must have rows with no key");
        Assert.True(output.masked_select(noKey.unsqueeze(-1).expand_as(output)).eq(0).all().item<bool>());
    }

    [Theory]
    [InlineData(false, Dim)]
    [InlineData(true, Dim)]
    [InlineData(false, 24)]
    [InlineData(true, 24)]
    public void EachStrategyIsAttentionOverTheSelectedBlocks(bool masked, long valueDim)
    {
        using var scope = NewDisposeScope();
        var p = Make(10, valueDim);
        var output = p.Run(masked ? BlockAttentionStrategy.Masked : BlockAttentionStrategy.Gathered, Scale);
        var expected = TestTensors.MaskedAttention64(p.Q, p.K, p.V, p.ElementMask(), Scale);
        Assert.Equal(new[] { (long)Groups, QueryTokens, valueDim }, output.shape);
        Assert.True(TestTensors.RelativeError(output, expected) < 1e-6);
        Assert.True((output.to(ScalarType.Float64) - expected).abs().max().item<double>() < 1e-5);
        AssertRowsWithoutKeysAreZero(p, output);
    }

    [Theory]
    [InlineData(0.1, 0.3)]
    [InlineData(0.6, 0.25)]
    [InlineData(0.95, 1.0)]
    public void TheStrategiesAgreeAtEveryDensityAndScale(double keep, double scale)
    {
        using var scope = NewDisposeScope();
        var p = Make(20, keep: keep);
        var gathered = p.Run(BlockAttentionStrategy.Gathered, scale);
        var masked = p.Run(BlockAttentionStrategy.Masked, scale);
        Assert.True(TestTensors.RelativeError(masked, gathered) < 1e-6);
        Assert.True((masked - gathered).abs().max().item<float>() < 1e-5f);
    }

    [Theory]
    [InlineData(CompensationMode.PerRow)]
    [InlineData(CompensationMode.PerQueryCluster)]
    public void TheStrategiesAgreeWithCompensation(CompensationMode mode)
    {
        using var scope = NewDisposeScope();
        var p = Make(30, keep: 0.3);
        using var generator = TestTensors.Seeded(35);
        var blocks = rand([Groups, QueryClusters, KeyClusters], generator: generator) < 0.7;
        using var means = ClusterMeans.Of(p.Q, p.K, p.V, p.QueryLabels, p.KeyLabels, QueryClusters, KeyClusters);
        var compensation = new CentroidCompensation(mode, means, blocks);
        var gathered = p.Run(BlockAttentionStrategy.Gathered, Scale, compensation);
        var masked = p.Run(BlockAttentionStrategy.Masked, Scale, compensation);
        Assert.True(TestTensors.RelativeError(masked, gathered) < 1e-6);
        Assert.True((masked - gathered).abs().max().item<float>() < 1e-5f);
        // Compensation changes the output: the comparison is not between two plain attentions.
        Assert.True(TestTensors.RelativeError(p.Run(BlockAttentionStrategy.Masked, Scale), masked) > 1e-3);
    }

    [Fact]
    public void BFloat16InputsGiveTheSameOutputOnBothStrategies()
    {
        using var scope = NewDisposeScope();
        var p = Make(40);
        var half = p with { Q = p.Q.to(ScalarType.BFloat16), K = p.K.to(ScalarType.BFloat16), V = p.V.to(ScalarType.BFloat16) };
        var gathered = half.Run(BlockAttentionStrategy.Gathered, Scale);
        var masked = half.Run(BlockAttentionStrategy.Masked, Scale);
        Assert.Equal(ScalarType.BFloat16, masked.dtype);
        // Both round the same float32 result to bf16: at most one bf16 step apart.
        Assert.True(TestTensors.RelativeError(masked, gathered) < 4e-3);
    }

    [Fact]
    public void TheRuleMasksDenseHeadsWhoseInputsAllowIt()
    {
        Assert.Equal(BlockAttentionStrategy.Gathered, VariableBlockAttention.StrategyFor(VariableBlockAttention.MaskedFromDensity - 1e-9, true));
        Assert.Equal(BlockAttentionStrategy.Masked, VariableBlockAttention.StrategyFor(VariableBlockAttention.MaskedFromDensity, true));
        Assert.Equal(BlockAttentionStrategy.Gathered, VariableBlockAttention.StrategyFor(1.0, false));
    }

    [Theory]
    [InlineData(1, float.NaN)]
    [InlineData(1, float.PositiveInfinity)]
    [InlineData(2, float.NegativeInfinity)]
    [InlineData(1, 1e35f)]
    public void NonFiniteOrHugeInputsKeepTheirHeadGathered(int which, float value)
    {
        using var scope = NewDisposeScope();
        var p = Make(50, keep: 0.9);
        (which == 1 ? p.K : p.V)[1, 5, 3] = tensor(value);
        var problem = new BlockAttentionProblem(p.Q, p.K, p.V, p.QueryLayout, p.KeyLayout, p.Mask, Scale, null);
        Assert.Equal(new[] { true, false, true }, MaskedBlockAttention.Applies(problem));

        var chosen = VariableBlockAttention.Forward(p.Q, p.K, p.V, p.QueryLayout, p.KeyLayout, p.Mask, Scale);
        var gathered = p.Run(BlockAttentionStrategy.Gathered, Scale);
        // Head 1 is the gathered computation bit for bit, non-finite results included; the others are masked.
        Assert.True(chosen[1].allclose(gathered[1], rtol: 0, atol: 0, equal_nan: true));
        foreach (int head in new[] { 0, 2 })
            Assert.True(TestTensors.RelativeError(chosen[head], gathered[head]) < 1e-6);
    }

    [Fact]
    public void TheDefaultPicksPerHeadAndMatchesTheGatheredOutput()
    {
        using var scope = NewDisposeScope();
        var p = Make(60, keep: 0.5);
        // Head 0 sparse (below the rule's density), heads 1 and 2 dense.
        using (var generator = TestTensors.Seeded(61))
            p.Mask[0].bitwise_and_(rand([QueryClusters, KeyClusters], generator: generator) < 0.1);
        var density = new BlockSparsity(p.QueryLabels, p.KeyLabels, p.Mask).Density();
        Assert.True(density[0].item<double>() < VariableBlockAttention.MaskedFromDensity);
        Assert.True(density[1].item<double>() >= VariableBlockAttention.MaskedFromDensity);
        var chosen = VariableBlockAttention.Forward(p.Q, p.K, p.V, p.QueryLayout, p.KeyLayout, p.Mask, Scale);
        var gathered = p.Run(BlockAttentionStrategy.Gathered, Scale);
        Assert.True(TestTensors.Same(chosen[0], gathered[0]));
        Assert.True(TestTensors.RelativeError(chosen, gathered) < 1e-6);
    }
}
