using Svg2.Models.Vae;
using static TorchSharp.torch;

namespace Svg2.Tests.Vae;

/// <summary>Output shapes of encode and decode, and the errors for inputs of the wrong shape.</summary>
public sealed class WanVaeShapeTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 2)]
    [InlineData(9, 3)]
    [InlineData(17, 5)]
    public void EncodeAndDecodeMapFramesAsTheVaeStrides(int frames, int latentFrames)
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(30, dtype: ScalarType.Float32);
        var latents = model.Encode(TinyVae.Video(31, frames, 16, 24, ScalarType.Float32));
        Assert.Equal(new long[] { 1, 16, latentFrames, 2, 3 }, latents.shape);
        Assert.Equal((latentFrames, 2L, 3L), model.LatentSizeFor(frames, 16, 24));
        var video = model.Decode(latents);
        Assert.Equal(new long[] { 1, 3, frames, 16, 24 }, video.shape);
        Assert.False(video.isnan().any().item<bool>());
    }

    [Fact]
    public void TheCodecDescribesTheWanVae()
    {
        using var model = new WanVae(TinyVae.Config());
        Assert.Equal(16, model.LatentChannels);
        Assert.Equal(4, model.TemporalCompression);
        Assert.Equal(8, model.SpatialCompression);
        Assert.Equal(ScalarType.Float32, model.WeightType);
        Assert.Equal((21L, 90L, 160L), model.LatentSizeFor(81, 720, 1280));
        Assert.Equal((21L, 60L, 104L), model.LatentSizeFor(81, 480, 832));
    }

    [Theory]
    [InlineData(new long[] { 1, 3, 4, 16, 16 }, "1 + 4n frames")]
    [InlineData(new long[] { 1, 3, 0, 16, 16 }, "1 + 4n frames")]
    [InlineData(new long[] { 1, 3, 5, 20, 16 }, "multiples of 8; got 20x16")]
    [InlineData(new long[] { 1, 3, 5, 16, 4 }, "multiples of 8; got 16x4")]
    [InlineData(new long[] { 1, 4, 5, 16, 16 }, "video [B, 3, F, H, W]; got shape [1, 4, 5, 16, 16]")]
    [InlineData(new long[] { 3, 5, 16, 16 }, "video [B, 3, F, H, W]; got shape [3, 5, 16, 16]")]
    public void EncodeRefusesVideosOfTheWrongShape(long[] shape, string message)
    {
        using var model = new WanVae(TinyVae.Config());
        using var video = zeros(shape);
        var error = Assert.Throws<ArgumentException>(() => model.Encode(video));
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData(new long[] { 1, 15, 2, 2, 3 }, "[1, 15, 2, 2, 3]")]
    [InlineData(new long[] { 1, 16, 0, 2, 3 }, "[1, 16, 0, 2, 3]")]
    [InlineData(new long[] { 16, 2, 2, 3 }, "[16, 2, 2, 3]")]
    public void DecodeRefusesLatentsOfTheWrongShape(long[] shape, string message)
    {
        using var model = new WanVae(TinyVae.Config());
        using var latents = zeros(shape);
        var error = Assert.Throws<ArgumentException>(() => model.Decode(latents));
        Assert.Contains("latents [B, 16, F, H, W]", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void IntegerInputsAndUnsupportedDtypesAreRefused()
    {
        using var model = new WanVae(TinyVae.Config());
        using var video = zeros([1, 3, 1, 8, 8], ScalarType.Int32);
        Assert.Contains("floating-point", Assert.Throws<ArgumentException>(() => model.Encode(video)).Message);
        Assert.Contains("Float16", Assert.Throws<ArgumentException>(() => new WanVae(TinyVae.Config(), CPU, ScalarType.Float16)).Message);
        Assert.Contains("TemporalDownsample", Assert.Throws<ArgumentException>(() => new WanVae(TinyVae.Config() with { TemporalDownsample = [true] })).Message);
    }

    [Fact]
    public void TheNormCanCarryABias()
    {
        using var scope = NewDisposeScope();
        using var norm = new VaeRmsNorm(4, images: false, bias: true, CPU, ScalarType.Float64);
        using (no_grad())
        {
            norm.Gamma.copy_(tensor(new[] { 1.0, 2.0, 3.0, 4.0 }).view(4, 1, 1, 1));
            norm.Bias!.copy_(tensor(new[] { 0.5, -0.5, 1.0, 0.0 }).view(4, 1, 1, 1));
        }
        var x = tensor(new[] { 3.0, 0.0, 4.0, 0.0 }).view(1, 4, 1, 1, 1);
        // x / ||x|| x sqrt(4) x gamma + bias: (0.6, 0, 0.8, 0) x 2 x (1, 2, 3, 4) + bias.
        var expected = tensor(new[] { 1.7, -0.5, 5.8, 0.0 }).view(1, 4, 1, 1, 1);
        Assert.True(TestTensors.RelativeError(norm.Forward(x), expected) < 1e-12);
        Assert.Equal(["gamma", "bias"], norm.named_parameters().Select(p => p.name));
    }
}
