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
}
