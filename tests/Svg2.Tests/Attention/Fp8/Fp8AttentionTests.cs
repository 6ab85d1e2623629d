using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Backends;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention.Fp8;

/// <summary>The FP8 attention reference against float64 attention, against itself block by block, and its quantisation.</summary>
public class Fp8AttentionTests
{
    /// <summary>Inputs whose attention is neither uniform nor one-hot, keys with a common offset as real keys have.</summary>
    static (Tensor Q, Tensor K, Tensor V) Inputs(int seed, long groups, long tokens, long headDim = 64)
    {
        var q = TestTensors.Normal(seed, [groups, tokens, headDim]);
        var k = TestTensors.Normal(seed + 1, [groups, tokens, headDim]) + TestTensors.Normal(seed + 2, [groups, 1, headDim]);
        return (q, k, TestTensors.Normal(seed + 3, [groups, tokens, headDim]));
    }

    static Tensor Dense64(Tensor q, Tensor k, Tensor v) =>
        TestTensors.MaskedAttention64(q, k, v, ones([q.shape[0], q.shape[1], k.shape[1]], ScalarType.Bool), 1.0 / Math.Sqrt(q.shape[2]));

    /// <summary>
    /// E4M3 rounds to 3 mantissa bits: about 2.7% rms relative error per element. With random values a row's output
    /// is an average that cancels, so P's and V's roundings each reach it at about that level, and the logits' add
    /// to it: 5-6% measured; float32 would be 1e-6. (Real attention is far less affected; docs/quality.md.)
    /// </summary>
    const double Fp8Bound = 0.08;

    public static TheoryData<Fp8ScaleGranularity, bool, bool> Settings() => new()
    {
        { Fp8ScaleGranularity.PerHead, false, false }, { Fp8ScaleGranularity.PerTile, true, false }, { Fp8ScaleGranularity.PerToken, true, false },
        { Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys, true, false }, { Fp8ScaleGranularity.PerToken, true, true },
        { Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys, true, true },
    };

    [Fact]
    public void KeySmoothingLeavesTheExactSoftmaxUnchangedOverAnySubsetOfKeys()
    {
        var (q, k, v) = Inputs(11, 2, 96);
        using var generator = TestTensors.Seeded(12);
        var allowed = rand([2, 96, 96], generator: generator).lt(0.3);
        double scale = 1 / 8.0;
        using var original = TestTensors.MaskedAttention64(q.to(ScalarType.Float64), k.to(ScalarType.Float64), v, allowed, scale);
        using var keys = k.to(ScalarType.Float64);
        using var smoothed = TestTensors.MaskedAttention64(q.to(ScalarType.Float64), keys - keys.mean([1], keepdim: true), v, allowed, scale);
        Assert.True(TestTensors.RelativeError(smoothed, original) < 1e-13);
        // And the smoothing really moved the keys.
        using var shift = KeySmoothing.Smooth(k).to(ScalarType.Float64) - keys;
        Assert.True(shift.abs().max().item<double>() > 0.1);
    }

    [Fact]
    public void EachTilesLargestElementLandsOnTheFormatsMaximumAndTheRestWithinItsRounding()
    {
        var x = TestTensors.Normal(21, [2, 200, 64]) * TestTensors.Normal(22, [2, 200, 1]).exp();
        using var quantized = Fp8Quantizer.RowTiles(x, 64);
        using var decoded = quantized.DecodedValues();
        // Tiles of 64, 64, 64 and 8 rows: each holds ±448 exactly once at its absolute maximum.
        foreach (var (start, rows) in new[] { (0L, 64L), (64L, 64L), (128L, 64L), (192L, 8L) })
            Assert.Equal(448f, decoded.narrow(1, start, rows).abs().amax([1, 2]).data<float>().ToArray().Distinct().Single());
        using var error = (quantized.Dequantize() - x).abs();
        // Normals: half a unit in the last place, 2^-4 of the magnitude; subnormals: half their step, 2^-10 x scale.
        using var bound = maximum(x.abs() / 16, quantized.Scales / 1024) * (1 + 1e-6);
        Assert.True(error.le(bound).all().item<bool>());
    }

    [Fact]
    public void AZeroChannelGetsScaleOneAndEveryOtherChannelItsOwnMaximum()
    {
        var v = TestTensors.Normal(31, [1, 50, 64]);
        v.narrow(2, 32, 32).zero_();
        using var quantized = Fp8Quantizer.Channels(v);
        Assert.Equal(new long[] { 1, 1, 64 }, quantized.Scales.shape);
        Assert.All(TestTensors.Floats(quantized.Scales.narrow(2, 32, 32)), s => Assert.Equal(1f, s));
        using var decoded = quantized.DecodedValues();
        Assert.All(TestTensors.Floats(decoded.narrow(2, 0, 32).abs().amax([1])), m => Assert.Equal(448f, m));
        Assert.All(TestTensors.Floats(decoded.narrow(2, 32, 32)), e => Assert.Equal(0f, e));
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void DenseFp8IsWithinTheFormatsErrorOfFloat64(Fp8ScaleGranularity scales, bool smooth, bool smoothQueries)
    {
        var (q, k, v) = Inputs(41, 3, 300);
        using var exact = Dense64(q, k, v);
        using var output = Fp8DenseAttention.Forward(q, k, v, new Fp8AttentionSettings(scales, smooth, smoothQueries));
        double error = TestTensors.RelativeError(output, exact);
        Assert.True(error is > 1e-3 and < Fp8Bound, $"{error}");
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void BlockSparseFp8IsWithinTheFormatsErrorOfMaskedFloat64(Fp8ScaleGranularity scales, bool smooth, bool smoothQueries)
    {
        var (q, k, v) = Inputs(51, 2, 256);
        var queryLabels = TestTensors.LabelsWithEmptyClusters(52, 2, 256, 6, 4);
        var keyLabels = TestTensors.LabelsWithEmptyClusters(53, 2, 256, 9, 2);
        using var generator = TestTensors.Seeded(54);
        var mask = rand([2, 6, 9], generator: generator).lt(0.4);
        mask[0, 1].fill_(false); // a query cluster with no key: its rows are 0
        using var queryLayout = ClusterPermutation.FromLabels(queryLabels, 6);
        using var keyLayout = ClusterPermutation.FromLabels(keyLabels, 9);
        double scale = 1 / 8.0;
        using var output = Fp8BlockSparseAttention.Forward(q, k, v, queryLayout, keyLayout, mask, scale, new Fp8AttentionSettings(scales, smooth, smoothQueries));
        // Token i of group g may attend token j when its query cluster selected j's key cluster.
        var allowed = stack(Enumerable.Range(0, 2).Select(g => mask[g].index_select(0, queryLabels[g]).index_select(1, keyLabels[g])).ToArray());
        using var exact = TestTensors.MaskedAttention64(q, k, v, allowed, scale);
        double error = TestTensors.RelativeError(output, exact);
        Assert.True(error is > 1e-3 and < Fp8Bound, $"{error}");
        var emptyRows = queryLabels[0].eq(1);
        Assert.True(emptyRows.any().item<bool>());
        Assert.Equal(0f, output[0].index_select(0, emptyRows.nonzero().squeeze(1)).abs().max().item<float>());
    }

    [Theory]
    [InlineData(Fp8ScaleGranularity.PerTile, false)]
    [InlineData(Fp8ScaleGranularity.PerToken, true)]
    public void OneClusterOfEveryTokenIsDenseAttentionBitForBit(Fp8ScaleGranularity scales, bool smoothQueries)
    {
        var (q, k, v) = Inputs(61, 2, 333);
        using var queryLayout = ClusterPermutation.FromLabels(zeros([2, 333], ScalarType.Int64), 1);
        using var keyLayout = ClusterPermutation.FromLabels(zeros([2, 333], ScalarType.Int64), 1);
        var settings = new Fp8AttentionSettings(scales, SmoothKeys: true, SmoothQueries: smoothQueries);
        using var sparse = Fp8BlockSparseAttention.Forward(q, k, v, queryLayout, keyLayout, ones([2, 1, 1], ScalarType.Bool), 1 / 8.0, settings);
        using var dense = Fp8DenseAttention.Forward(q, k, v, settings);
        Assert.True(TestTensors.Same(sparse, dense));
    }

    [Fact]
    public void ABackendRunsDenseFp8AsOneClusterOfEveryTokenInBothLayouts()
    {
        // [B, H, S, D] as the model hands it; the reference backend's block-sparse FP8 is the dense emulation.
        var (q, k, v) = Inputs(67, 4, 200);
        var (q4, k4, v4) = (q.reshape(2, 2, 200, 64), k.reshape(2, 2, 200, 64), v.reshape(2, 2, 200, 64));
        var settings = Fp8AttentionSettings.Default;
        using var viaBackend = ReferenceBackend.Instance.AttendFp8Dense(q4, k4, v4, settings);
        using var dense = Fp8DenseAttention.Forward(q4, k4, v4, settings);
        Assert.Equal(q4.shape, viaBackend.shape);
        Assert.True(TestTensors.Same(viaBackend, dense));
        Assert.Throws<ArgumentException>(() => ReferenceBackend.Instance.AttendFp8Dense(q, k4, v4, settings));
    }

    /// <summary>
    /// The kernel's loop written out: per step of 128 keys, the logits with Q smoothing's key bias (zero without it), the
    /// running maximum, rescaled accumulators, P rounded against the maximum so far, P̂·V̂ of the step and the sum of P̂
    /// added in float32.
    /// </summary>
    static Tensor StepByStep(Tensor q, Tensor k, Tensor v, Fp8AttentionSettings settings)
    {
        long tokens = q.shape[1];
        bool perTokenQueries = settings.Scales is Fp8ScaleGranularity.PerToken or Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys;
        long QueryRowsPerScale() => settings.Scales == Fp8ScaleGranularity.PerTile ? 128 : perTokenQueries ? 1 : tokens;
        long KeyRowsPerScale() => settings.Scales switch { Fp8ScaleGranularity.PerTile => 64, Fp8ScaleGranularity.PerToken => 1, _ => tokens };
        var smoothedKeys = settings.SmoothKeys ? KeySmoothing.Smooth(k) : k;
        var (smoothedQueries, bias) = settings.SmoothQueries ? QuerySmoothing.Smooth(q, smoothedKeys) : (q, zeros([q.shape[0], k.shape[1]]));
        using var queries = Fp8Quantizer.RowTiles(smoothedQueries, QueryRowsPerScale());
        using var keys = Fp8Quantizer.RowTiles(smoothedKeys, KeyRowsPerScale());
        using var values = Fp8Quantizer.Channels(v);
        var (qd, kd, vd) = (queries.DecodedValues(), keys.DecodedValues(), values.DecodedValues());
        var runningMax = full([q.shape[0], tokens, 1], float.NegativeInfinity);
        var rowSum = zeros([q.shape[0], tokens, 1]);
        var accumulator = zeros([q.shape[0], tokens, v.shape[2]]);
        for (long start = 0; start < tokens; start += 128)
        {
            long count = Math.Min(128, tokens - start);
            var logits = (qd.bmm(kd.narrow(1, start, count).transpose(1, 2)) * (queries.Scales * keys.Scales.narrow(1, start, count).transpose(1, 2))
                          + bias.narrow(1, start, count).unsqueeze(1)) * (1 / 8.0);
            var newMax = maximum(runningMax, logits.amax([2], keepdim: true));
            var correction = (runningMax - newMax).exp();
            var rounded = E4M3.Round((logits - newMax).exp() * 448f);
            rowSum = rowSum * correction + rounded.sum([2], keepdim: true);
            accumulator = accumulator * correction + rounded.bmm(vd.narrow(1, start, count));
            runningMax = newMax;
        }
        return accumulator * values.Scales / rowSum;
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void TheCumulativeMaximumFormIsTheKernelsLoopUpToFloat32Rounding(Fp8ScaleGranularity scales, bool smooth, bool smoothQueries)
    {
        var (q, k, v) = Inputs(71, 2, 300); // 128 + 128 + 44 keys: a short last step
        var settings = new Fp8AttentionSettings(scales, smooth, smoothQueries);
        using var expected = StepByStep(q, k, v, settings);
        using var output = Fp8DenseAttention.Forward(q, k, v, settings);
        Assert.True(TestTensors.RelativeError(output, expected) < 1e-5, $"{TestTensors.RelativeError(output, expected)}");
    }

    [Theory]
    [InlineData(32)]
    [InlineData(96)]
    public void HeadDimensionsWithoutAnFp8KernelAreRefused(long headDim)
    {
        var (q, k, v) = Inputs(81, 1, 16, headDim);
        var error = Assert.Throws<ArgumentException>(() => Fp8DenseAttention.Forward(q, k, v, Fp8AttentionSettings.Default));
        Assert.Contains("head dimension 64 or 128", error.Message);
        Assert.Contains($"got {headDim}", error.Message);
        using var layout = ClusterPermutation.FromLabels(zeros([1, 16], ScalarType.Int64), 1);
        Assert.Throws<ArgumentException>(() => Fp8BlockSparseAttention.Forward(q, k, v, layout, layout, ones([1, 1, 1], ScalarType.Bool), 0.1, Fp8AttentionSettings.Default));
    }

    /// <summary>docs/quality.md's MiniLM dense figures: mean over the 72 heads and worst head.</summary>
    public static TheoryData<Fp8ScaleGranularity, double, double, double> DocumentedTextErrors() => new()
    {
        { Fp8ScaleGranularity.PerToken, 0.025, 0.032, 0.08 },                    // 0.0295, 0.070
        { Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys, 0.028, 0.036, 0.09 },  // 0.0324, 0.082
    };

    [Theory]
    [MemberData(nameof(DocumentedTextErrors))]
    public void OnRealTextAttentionDenseFp8StaysAtItsDocumentedError(Fp8ScaleGranularity scales, double lowestMean, double highestMean, double highestWorst)
    {
        var (q4, k4, v4) = Svg2.IO.QkvFile.Read(SharedData.Path("minilm-text-qkv.safetensors"));
        var (q, k, v) = HeadDimPadding.Pad(AttentionInputs.Flatten(q4), AttentionInputs.Flatten(k4), AttentionInputs.Flatten(v4), 64);
        var (qb, kb, vb) = (q.to(ScalarType.BFloat16), k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16));
        using var reference = DenseAttention.Forward(qb, kb, vb).to(ScalarType.Float64);
        using var output = Fp8DenseAttention.Forward(qb, kb, vb, new Fp8AttentionSettings(scales)).to(ScalarType.Float64);
        using var perHead = (output - reference).square().sum([1, 2]).sqrt() / reference.square().sum([1, 2]).sqrt();
        double mean = perHead.mean().item<double>(), worst = perHead.max().item<double>();
        Assert.True(mean > lowestMean && mean < highestMean && worst < highestWorst, $"mean {mean}, worst {worst}");
    }

    [Fact]
    public void PaddingTheHeadDimensionLeavesTheAttentionUnchanged()
    {
        var (q, k, v) = Inputs(91, 2, 40, 32);
        var (qp, kp, vp) = HeadDimPadding.Pad(q, k, v, 64);
        Assert.Equal(new long[] { 2, 40, 64 }, qp.shape);
        using var padded = DenseAttention.Forward(qp, kp, vp);
        using var original = DenseAttention.Forward(q, k, v);
        Assert.True(TestTensors.RelativeError(padded.narrow(2, 0, 32), original) < 1e-5);
        Assert.Equal(0f, padded.narrow(2, 32, 32).abs().max().item<float>());
    }
}
