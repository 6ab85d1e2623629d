using Svg2.Models.Text;
using static TorchSharp.torch;

namespace Svg2.Tests.Text;

public sealed class UMT5EncoderTests
{
    [Fact]
    public void Float32MatchesTheFloat64ReferenceWithPaddingMasked()
    {
        var config = TinyUMT5.Config();
        using var encoder = TinyUMT5.Create(config, seed: 11);
        int[] lengths = [40, 13];
        var ids = TinyUMT5.Ids(12, 40, config.VocabularySize, lengths);
        using var scope = NewDisposeScope();
        var ours = encoder.Forward(TinyUMT5.ToTensor(ids), TinyUMT5.Mask(40, lengths));
        var expected = TinyUMT5.Reference64(encoder, ids, lengths);
        Assert.Equal(new long[] { 2, 40, config.Dim }, ours.shape);
        Assert.Equal(ScalarType.Float32, ours.dtype);
        Assert.InRange(TestTensors.RelativeError(ours, expected), 0, 1e-5);
    }

    [Fact]
    public void Bf16StaysWithinBf16PrecisionOfTheReference()
    {
        var config = TinyUMT5.Config();
        using var exact = TinyUMT5.Create(config, seed: 21);
        using var rounded = new UMT5Encoder(config, CPU, ScalarType.BFloat16);
        using (no_grad())
            foreach (var ((_, source), (_, target)) in exact.named_parameters().Zip(rounded.named_parameters()))
            {
                // The float64 reference gets the same bf16 values, so that only the bf16 arithmetic differs.
                source.copy_(source.to(ScalarType.BFloat16));
                target.copy_(source);
            }
        int[] lengths = [24, 7];
        var ids = TinyUMT5.Ids(22, 24, config.VocabularySize, lengths);
        using var scope = NewDisposeScope();
        var ours = rounded.Forward(TinyUMT5.ToTensor(ids), TinyUMT5.Mask(24, lengths));
        Assert.Equal(ScalarType.BFloat16, ours.dtype);
        Assert.InRange(TestTensors.RelativeError(ours, TinyUMT5.Reference64(exact, ids, lengths)), 0, 3e-2);
    }

    [Fact]
    public void PaddedAndMaskedEqualsThePromptAlone()
    {
        var config = TinyUMT5.Config();
        using var encoder = TinyUMT5.Create(config, seed: 31);
        var ids = TinyUMT5.Ids(32, 30, config.VocabularySize, 9);
        using var scope = NewDisposeScope();
        var padded = encoder.Forward(TinyUMT5.ToTensor(ids), TinyUMT5.Mask(30, 9)).narrow(1, 0, 9);
        var alone = encoder.Forward(TinyUMT5.ToTensor(ids).narrow(1, 0, 9));
        Assert.InRange(TestTensors.RelativeError(padded, alone), 0, 1e-6);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 17)]
    [InlineData(-1, 1)]
    [InlineData(7, 23)]
    [InlineData(-7, 7)]
    [InlineData(8, 24)]
    [InlineData(-8, 8)]
    [InlineData(15, 25)]    // 8 + floor(log(15/8) / log(16) * 8) = 8 + floor(1.81)
    [InlineData(16, 26)]    // log(2) / log(16) * 8 = 2 exactly: the boundary
    [InlineData(-16, 10)]
    [InlineData(31, 27)]
    [InlineData(32, 28)]
    [InlineData(64, 30)]
    [InlineData(127, 31)]   // 8 + floor(7.98)
    [InlineData(128, 31)]
    [InlineData(-128, 15)]
    [InlineData(-5000, 15)]
    public void BucketsOfUmt5XxlByHand(long offset, long bucket)
    {
        using var offsets = tensor(new[] { offset });
        using var buckets = UMT5RelativePositionBias.Buckets(offsets, 32, 128);
        Assert.Equal(bucket, buckets.item<long>());
        Assert.Equal(bucket, TinyUMT5.Bucket(offset, 32, 128));
    }

    [Fact]
    public void BucketsMatchTheDoublePrecisionFormulaOverAWideRange()
    {
        var offsets = Enumerable.Range(-600, 1201).Select(i => (long)i).ToArray();
        using var tensorOffsets = tensor(offsets);
        foreach (var (buckets, distance) in new[] { (32, 128), (8, 16), (16, 40) })
        {
            using var ours = UMT5RelativePositionBias.Buckets(tensorOffsets, buckets, distance);
            Assert.Equal(offsets.Select(o => TinyUMT5.Bucket(o, buckets, distance)).ToArray(), TestTensors.Longs(ours));
        }
    }

    [Fact]
    public void ParametersCarryTheOfficialNames()
    {
        using var encoder = new UMT5Encoder(UMT5Config.Tiny with { Layers = 1 }, CPU, ScalarType.Float32);
        var names = encoder.named_parameters().Select(p => p.name).ToArray();
        Assert.Equal(new[]
        {
            "token_embedding.weight", "blocks.0.norm1.weight", "blocks.0.attn.q.weight", "blocks.0.attn.k.weight",
            "blocks.0.attn.v.weight", "blocks.0.attn.o.weight", "blocks.0.norm2.weight", "blocks.0.ffn.gate.0.weight",
            "blocks.0.ffn.fc1.weight", "blocks.0.ffn.fc2.weight", "blocks.0.pos_embedding.embedding.weight", "norm.weight",
        }, names);
        Assert.All(encoder.parameters(), p => Assert.False(p.requires_grad));
    }

    [Fact]
    public void XxlHasThePublicShapes()
    {
        var config = UMT5Config.Xxl;
        Assert.Equal((256_384, 4096, 4096, 10_240, 64, 24, 32, 128), (config.VocabularySize, config.Dim, config.AttentionDim,
            config.FeedForwardDim, config.Heads, config.Layers, config.PositionBuckets, config.MaxDistance));
        Assert.Equal(64, config.HeadDim);
        config.Validate();
    }

    [Fact]
    public void MovingKeepsNamesAndValuesAndFreesTheOldWeights()
    {
        var config = TinyUMT5.Config();
        using var encoder = TinyUMT5.Create(config, seed: 41);
        var ids = TinyUMT5.ToTensor(TinyUMT5.Ids(42, 12, config.VocabularySize, 12));
        using var before = encoder.Forward(ids);
        var names = encoder.named_parameters().Select(p => p.name).ToArray();
        var old = encoder.named_parameters().First().parameter;
        encoder.MoveTo(CPU);
        Assert.True(old.IsInvalid);
        Assert.Equal(names, encoder.named_parameters().Select(p => p.name));
        using var after = encoder.Forward(ids);
        Assert.Equal(0, TestTensors.RelativeError(after, before));
    }

    [Fact]
    public void IdsOutsideTheVocabularyAreRefused()
    {
        using var encoder = TinyUMT5.Create(TinyUMT5.Config(), seed: 51);
        var error = Assert.Throws<ArgumentException>(() => encoder.Forward(tensor(new long[] { 3, 64 }).unsqueeze(0)));
        Assert.Contains("[3, 64]", error.Message);
        Assert.Contains("64 entries", error.Message);
    }

    [Fact]
    public void IdsAndMaskOfTheWrongShapeAreRefused()
    {
        using var encoder = TinyUMT5.Create(TinyUMT5.Config(), seed: 52);
        Assert.Contains("[batch, length]", Assert.Throws<ArgumentException>(() => encoder.Forward(tensor(new long[] { 3, 4 }))).Message);
        Assert.Contains("does not match", Assert.Throws<ArgumentException>(() =>
            encoder.Forward(tensor(new long[] { 3, 4 }).unsqueeze(0), ones(1, 3, dtype: ScalarType.Int64))).Message);
    }

    [Theory]
    [InlineData(5, 7, "not divisible")]
    [InlineData(8, 2, "at least 4 position buckets")]
    public void InvalidConfigsNameTheProblem(int heads, int buckets, string message)
    {
        var config = UMT5Config.Tiny with { Heads = heads, PositionBuckets = buckets };
        Assert.Contains(message, Assert.Throws<ArgumentException>(config.Validate).Message);
    }
}
