using Svg2.Configuration;
using Svg2.Methods;
using Svg2.Statistics;
using static TorchSharp.torch;

namespace Svg2.Tests.Methods;

public class MethodTests
{
    const int Groups = 2, Dim = 16;
    static readonly TokenGrid Grid = new(3, 8, 10);
    static readonly Tensor Q = TestTensors.Normal(100, [Groups, Grid.Tokens, Dim]) * 2;
    static readonly Tensor K = TestTensors.Normal(101, [Groups, Grid.Tokens, Dim]) * 2;
    static readonly Tensor V = TestTensors.Normal(102, [Groups, Grid.Tokens, Dim]);
    static readonly Tensor Dense = nn.functional.scaled_dot_product_attention(Q.unsqueeze(0), K.unsqueeze(0), V.unsqueeze(0)).squeeze(0);

    public static TheoryData<string> Names => new() { "svg2", "blocks", "window", "oracle" };

    static IAttentionMethod Create(string name) => name switch
    {
        "svg2" => new Svg2Method(new Svg2Options { QueryClusters = 8, KeyClusters = 20, InitIterations = 8, MinKeyClusterRatio = 0 }),
        "blocks" => new PositionBlocksMethod(BlockSize: 16, MinKeyBlockRatio: 0),
        "window" => new LocalWindowMethod(Grid),
        "oracle" => new TokenOracleMethod(),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void FullBudgetEqualsDenseAttention(string name)
    {
        using var prepared = Create(name).Prepare(Q, K, V);
        var pattern = prepared.Plan(prepared.ParameterRange.Max);
        Assert.Equal(1.0, DensitySearch.MeanDensity(pattern), 9);
        Assert.True(TestTensors.RelativeError(prepared.Attend(pattern), Dense) < 1e-4);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void DensitySearchReachesTheTargetAndOutputIsExactOverTheAllowedKeys(string name)
    {
        using var prepared = Create(name).Prepare(Q, K, V);
        var found = DensitySearch.Find(prepared, 0.3);
        // A window on so small a grid has only a few tile radii, so its densities are coarse steps.
        if (name == "window") Assert.InRange(found.Density, 0.1, 0.5);
        else Assert.InRange(found.Density, 0.3 * (1 - DensitySearch.RelativeTolerance) - 0.01, 0.3 * (1 + DensitySearch.RelativeTolerance) + 0.01);
        var output = prepared.Attend(found.Pattern);
        var probabilities = (Q.bmm(K.transpose(1, 2)) / Math.Sqrt(Dim)).softmax(-1);
        var allowed = found.Pattern.Allowed(arange(Grid.Tokens, ScalarType.Int64), probabilities);
        var expected = TestTensors.MaskedAttention64(Q, K, V, allowed, 1 / Math.Sqrt(Dim));
        Assert.True(TestTensors.RelativeError(output, expected) < 1e-4);
        var quality = AttentionQuality.Measure(Q, K, V, output, found.Pattern);
        Assert.All(quality.Recall, r => Assert.InRange(r, 0.5 * found.Density, 0.9999));
    }

    [Fact]
    public void WindowTilesAreLocalAndTheMaskIsSymmetric()
    {
        using var prepared = new LocalWindowMethod(Grid).Prepare(Q, K, V);
        var pattern = (BlockSparsity)prepared.Plan(0);
        var mask = pattern.BlockMask[0];
        Assert.True((mask == mask.t()).all().item<bool>());
        Assert.True(mask.diagonal().all().item<bool>(), "each tile attends itself");
        Assert.True(DensitySearch.MeanDensity(pattern) < DensitySearch.MeanDensity(prepared.Plan(0.5)));
    }

    [Fact]
    public void OracleRecallIsAtLeastEveryBlockMethodsAtEqualPerQueryBudget()
    {
        // Each query keeps its best keys: no pattern with the same number of keys per query can hold more mass.
        using var oracle = new TokenOracleMethod().Prepare(Q, K, V);
        using var blocks = new PositionBlocksMethod(16, 0).Prepare(Q, K, V);
        var blockPattern = DensitySearch.Find(blocks, 0.25).Pattern;
        var probabilities = (Q.bmm(K.transpose(1, 2)) / Math.Sqrt(Dim)).softmax(-1);
        var blockAllowed = blockPattern.Allowed(arange(Grid.Tokens, ScalarType.Int64), probabilities);
        var perRowKeys = blockAllowed.sum(-1);
        var bestMass = probabilities.sort(-1, descending: true).Values.cumsum(-1).gather(-1, (perRowKeys - 1).clamp_min(0).unsqueeze(-1)).squeeze(-1);
        var blockMass = (probabilities * blockAllowed).sum(-1);
        Assert.True((bestMass >= blockMass - 1e-5).all().item<bool>());
        Assert.NotNull(oracle.Plan(0.25));
    }

    [Fact]
    public void WindowRejectsAGridOfTheWrongSize() =>
        Assert.Contains("grid", Assert.Throws<ArgumentException>(() => new LocalWindowMethod(new TokenGrid(2, 2, 2)).Prepare(Q, K, V)).Message);
}
