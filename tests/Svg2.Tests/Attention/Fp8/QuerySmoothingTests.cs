using Svg2.Algorithm;
using Svg2.Attention.Fp8;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention.Fp8;

/// <summary>Q smoothing: the logits it leaves, the bias it carries, and what it does to FP8 attention's error.</summary>
public class QuerySmoothingTests
{
    /// <summary>Queries with a common direction far larger than their spread, as sharp text heads have, and smoothed-looking keys.</summary>
    static (Tensor Q, Tensor K, Tensor V) OffsetInputs(int seed, long groups, long tokens, long headDim = 64)
    {
        var q = TestTensors.Normal(seed, [groups, tokens, headDim]) * 0.5 + TestTensors.Normal(seed + 1, [groups, 1, headDim]) * 3;
        var k = TestTensors.Normal(seed + 2, [groups, tokens, headDim]) + TestTensors.Normal(seed + 3, [groups, 1, headDim]);
        return (q, k, TestTensors.Normal(seed + 4, [groups, tokens, headDim]));
    }

    [Fact]
    public void SmoothedQueriesPlusTheKeyBiasGiveTheOriginalLogits()
    {
        var (q, k, _) = OffsetInputs(71, 2, 150);
        var (queries, bias) = QuerySmoothing.Smooth(q, k);
        Assert.Equal(new long[] { 2, 150 }, bias.shape);
        using var original = q.to(ScalarType.Float64).matmul(k.to(ScalarType.Float64).transpose(1, 2));
        using var rebuilt = queries.to(ScalarType.Float64).matmul(k.to(ScalarType.Float64).transpose(1, 2)) + bias.to(ScalarType.Float64).unsqueeze(1);
        Assert.True(TestTensors.RelativeError(rebuilt, original) < 1e-6);
        // The smoothed queries have no mean left, and the mean was large.
        Assert.True(queries.mean([1]).abs().max().item<float>() < 1e-5);
        Assert.True(q.mean([1]).abs().max().item<float>() > 1);
    }

    [Fact]
    public void MismatchedShapesAreRefusedWithBothShapesNamed()
    {
        var error = Assert.Throws<ArgumentException>(() => QuerySmoothing.Smooth(zeros(2, 10, 64), zeros(3, 10, 64)));
        Assert.Contains("[2, 10, 64]", error.Message);
        Assert.Contains("[3, 10, 64]", error.Message);
    }

    [Theory]
    [InlineData(Fp8ScaleGranularity.PerToken)]
    [InlineData(Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys)]
    public void DenseFp8WithQSmoothingIsCloserToFloat64OnQueriesWithACommonDirection(Fp8ScaleGranularity scales)
    {
        var (q, k, v) = OffsetInputs(81, 3, 300);
        using var exact = TestTensors.MaskedAttention64(q, k, v, ones([3, 300, 300], ScalarType.Bool), 1 / 8.0);
        using var plain = Fp8DenseAttention.Forward(q, k, v, new Fp8AttentionSettings(scales));
        using var smoothed = Fp8DenseAttention.Forward(q, k, v, new Fp8AttentionSettings(scales, SmoothQueries: true));
        double plainError = TestTensors.RelativeError(plain, exact), smoothedError = TestTensors.RelativeError(smoothed, exact);
        Assert.True(smoothedError > 1e-3 && smoothedError < 0.9 * plainError, $"smoothed {smoothedError}, plain {plainError}");
    }

    [Fact]
    public void BlockSparseFp8WithQSmoothingKeepsEmptyRowsZeroAndOneClusterIsDenseBitForBit()
    {
        var (q, k, v) = OffsetInputs(91, 2, 256);
        var settings = new Fp8AttentionSettings(SmoothQueries: true);
        var queryLabels = TestTensors.LabelsWithEmptyClusters(92, 2, 256, 6, 4);
        var keyLabels = TestTensors.LabelsWithEmptyClusters(93, 2, 256, 9, 2);
        using var generator = TestTensors.Seeded(94);
        var mask = rand([2, 6, 9], generator: generator).lt(0.4);
        mask[0, 1].fill_(false);
        using var queryLayout = ClusterPermutation.FromLabels(queryLabels, 6);
        using var keyLayout = ClusterPermutation.FromLabels(keyLabels, 9);
        using var output = Fp8BlockSparseAttention.Forward(q, k, v, queryLayout, keyLayout, mask, 1 / 8.0, settings);
        var allowed = stack(Enumerable.Range(0, 2).Select(g => mask[g].index_select(0, queryLabels[g]).index_select(1, keyLabels[g])).ToArray());
        using var exact = TestTensors.MaskedAttention64(q, k, v, allowed, 1 / 8.0);
        double error = TestTensors.RelativeError(output, exact);
        Assert.True(error is > 1e-3 and < 0.08, $"{error}");
        var emptyRows = queryLabels[0].eq(1).nonzero().squeeze(1);
        Assert.Equal(0f, output[0].index_select(0, emptyRows).abs().max().item<float>());

        using var one = ClusterPermutation.FromLabels(zeros([2, 256], ScalarType.Int64), 1);
        using var sparse = Fp8BlockSparseAttention.Forward(q, k, v, one, one, ones([2, 1, 1], ScalarType.Bool), 1 / 8.0, settings);
        using var dense = Fp8DenseAttention.Forward(q, k, v, settings);
        Assert.True(TestTensors.Same(sparse, dense));
    }
}
