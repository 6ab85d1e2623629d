using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Configuration;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention;

/// <summary>
/// The policy for NaN and infinity in q, k and v: rejected with the element named when
/// <see cref="Svg2Options.CheckFinite"/> is on, otherwise propagated as the reference path's
/// operations do (docs/design.md, "Non-finite inputs"); every head stays independent.
/// </summary>
public class NonFiniteInputTests
{
    const int Heads = 3, Tokens = 256, Dim = 16;
    static readonly Svg2Options Options = new() { QueryClusters = 8, KeyClusters = 16, Seed = 3 };

    static (Tensor Q, Tensor K, Tensor V) Inputs(int seed)
    {
        using var generator = TestTensors.Seeded(seed);
        return (randn([1, Heads, Tokens, Dim], generator: generator), randn([1, Heads, Tokens, Dim], generator: generator),
                randn([1, Heads, Tokens, Dim], generator: generator));
    }

    static Tensor Run(Svg2Options options, Tensor q, Tensor k, Tensor v)
    {
        using var state = new Svg2LayerState();
        using var result = new Svg2Attention(options).Forward(q, k, v, state);
        return result.Output.clone().DetachFromDisposeScope();
    }

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static bool Close(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.allclose(b, rtol: 1e-5, atol: 1e-6);

    static Tensor Pick(int which, Tensor q, Tensor k, Tensor v) => which switch { 0 => q, 1 => k, _ => v };

    [Theory]
    [InlineData(0, float.NaN)]
    [InlineData(1, float.PositiveInfinity)]
    [InlineData(2, float.NegativeInfinity)]
    public void CheckFiniteNamesTheTensorHeadAndRow(int which, float value)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Inputs(11);
        Pick(which, q, k, v)[0, 2, 77, 3] = tensor(value);
        var attention = new Svg2Attention(Options with { CheckFinite = true });
        using var state = new Svg2LayerState();
        var error = Assert.Throws<ArgumentException>(() => attention.Forward(q, k, v, state));
        string name = new[] { "q", "k", "v" }[which];
        Assert.StartsWith($"{name} holds 1 non-finite value(s)", error.Message);
        Assert.Contains("head 2, row 77, column 3", error.Message);
        Assert.Null(state.QueryCentroids);
    }

    [Fact]
    public void CheckFiniteAlsoGuardsTheCallsThatOnlyCluster()
    {
        using var scope = NewDisposeScope();
        var (q, k, _) = Inputs(12);
        k[0, 1, 5, 0] = tensor(float.NaN);
        var attention = new Svg2Attention(Options with { CheckFinite = true });
        using var state = new Svg2LayerState();
        Assert.Contains("head 1, row 5", Assert.Throws<ArgumentException>(() => attention.RefineCentroids(q, k, state)).Message);
        Assert.StartsWith("k holds", Assert.Throws<ArgumentException>(() => attention.Cluster(q, k, state)).Message);
    }

    [Fact]
    public void CheckFiniteAcceptsFiniteInputsAndChangesNothing()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Inputs(13);
        var plain = Run(Options, q, k, v);
        var checkedOutput = Run(Options with { CheckFinite = true }, q, k, v);
        Assert.True(Same(plain, checkedOutput));
    }

    [Fact]
    public void TheAssignmentLetsTheFirstNaNDistanceWin()
    {
        using var scope = NewDisposeScope();
        using var generator = TestTensors.Seeded(14);
        var points = randn([2, 40, Dim], generator: generator);
        var centroids = randn([2, 6, Dim], generator: generator);
        points[0, 9, 2] = tensor(float.NaN);      // a NaN point is at NaN distance from every centroid
        centroids[1, 4, 0] = tensor(float.NaN);   // every point is at NaN distance from a NaN centroid
        centroids[1, 5, 0] = tensor(float.NaN);
        var labels = KMeans.Assign(points, centroids);
        Assert.Equal(0, labels[0, 9].item<long>());
        Assert.True((labels[1] == 4).all().item<bool>());
        var clean = KMeans.Assign(points[0].narrow(0, 0, 9).unsqueeze(0), centroids[0].unsqueeze(0));
        Assert.True(Same(labels[0].narrow(0, 0, 9), clean[0]));
    }

    [Theory]
    [InlineData(SelectionPrecision.Float32)]
    [InlineData(SelectionPrecision.BFloat16Emulated)]
    public void ASelectionRowWithANaNCentroidKeepsTheLowestIdsAtTheMinimum(SelectionPrecision precision)
    {
        using var scope = NewDisposeScope();
        using var generator = TestTensors.Seeded(15);
        const int QueryClusters = 5, KeyClusters = 30;
        var queryCentroids = randn([2, QueryClusters, Dim], generator: generator);
        var keyCentroids = randn([2, KeyClusters, Dim], generator: generator);
        var sizes = randint(1, 20, [2, KeyClusters], generator: generator);
        var rule = new SelectionRule(0.9, 0.1, precision);
        var clean = CriticalClusterSelection.Select(queryCentroids, keyCentroids, sizes, rule);
        queryCentroids[0, 3, 1] = tensor(float.NaN);   // one query cluster of group 0
        keyCentroids[1, 17, 1] = tensor(float.NaN);    // one key cluster of group 1: every row of the group
        var mask = CriticalClusterSelection.Select(queryCentroids, keyCentroids, sizes, rule);

        var lowest = arange(KeyClusters) < rule.MinimumKept(KeyClusters);
        Assert.Equal(3, rule.MinimumKept(KeyClusters));
        Assert.True(Same(mask[0, 3], lowest));
        Assert.True(Same(mask[1], lowest.expand(QueryClusters, KeyClusters)));
        var otherRows = arange(QueryClusters) != 3;
        Assert.True(Same(mask[0][otherRows], clean[0][otherRows]));
    }

    [Fact]
    public void UncheckedNaNInQMakesItsRowNaNAndLeavesOtherHeadsAlone()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Inputs(16);
        var clean = Run(Options, q, k, v);
        q[0, 1, 77, 3] = tensor(float.NaN);
        var output = Run(Options, q, k, v);

        Assert.True(output[0, 1, 77].isnan().all().item<bool>());
        var otherRows = arange(Tokens) != 77;
        Assert.True(output[0, 1][otherRows].isfinite().all().item<bool>());
        foreach (int head in new[] { 0, 2 })
            Assert.True(Same(output[0, head], clean[0, head]), $"head {head} changed");
    }

    [Fact]
    public void UncheckedNaNInKPutsEveryKeyOfTheHeadInOneNaNClusterThatEveryRowAttends()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Inputs(17);
        var clean = Run(Options, q, k, v);
        k[0, 2, 50, 0] = tensor(float.NaN);
        var attention = new Svg2Attention(Options);
        using var state = new Svg2LayerState();
        using var clustering = attention.Cluster(q, k, state);
        Assert.True((clustering.Key.Labels[2] == 0).all().item<bool>());
        Assert.True(clustering.Key.Centroids[2, 0].isnan().any().item<bool>());

        var output = Run(Options, q, k, v);
        Assert.True(output[0, 2].isnan().all().item<bool>());
        foreach (int head in new[] { 0, 1 })
            Assert.True(Same(output[0, head], clean[0, head]), $"head {head} changed");
    }

    [Fact]
    public void UncheckedNaNInVReachesOnlyItsColumnOfTheRowsThatAttendIt()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Inputs(18);
        var clean = Run(Options, q, k, v);
        v[0, 0, 30, 5] = tensor(float.NaN);
        var output = Run(Options, q, k, v);

        var column = output[0, 0, .., 5];
        long nanRows = column.isnan().sum().item<long>();
        Assert.InRange(nanRows, 1, Tokens);
        // The clean head is dense enough to run masked, the head with a NaN runs gathered (VariableBlockAttention.StrategyFor):
        // the same attention within float32 rounding.
        var otherColumns = arange(Dim) != 5;
        Assert.True(Close(output[0, 0].index_select(1, otherColumns.nonzero().squeeze(1)), clean[0, 0].index_select(1, otherColumns.nonzero().squeeze(1))));
        Assert.True(Close(column[column.isnan().logical_not()], clean[0, 0, .., 5][column.isnan().logical_not()]));
        foreach (int head in new[] { 1, 2 })
            Assert.True(Same(output[0, head], clean[0, head]), $"head {head} changed");
    }
}
