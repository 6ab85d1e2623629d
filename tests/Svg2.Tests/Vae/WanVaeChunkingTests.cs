using Svg2.Models.Vae;
using static TorchSharp.torch;

namespace Svg2.Tests.Vae;

/// <summary>
/// The chunked, cached encoder and decoder against the whole-sequence reference: the key property of a
/// causal VAE run chunk by chunk.
/// </summary>
public sealed class WanVaeChunkingTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(13)]
    public void EncoderChunksAsThePublicCodeEqualTheWholeVideo(int frames)
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(1);
        var video = TinyVae.Video(2, frames);
        var expected = new VaeReference(model).Encoder(video);
        // The first frame alone, then chunks of four.
        var actual = RunEncoder(model, video, [1, .. Enumerable.Repeat(4, (frames - 1) / 4)]);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(TestTensors.RelativeError(actual, expected) < 1e-12, $"relative error {TestTensors.RelativeError(actual, expected):e2}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void DecoderOneLatentFrameAtATimeEqualsTheWholeSequence(int frames)
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(3);
        var latents = TinyVae.Latents(4, frames);
        var expected = new VaeReference(model).Decoder(latents);
        var actual = RunDecoder(model, latents, Enumerable.Repeat(1, frames).ToArray());
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(TestTensors.RelativeError(actual, expected) < 1e-12, $"relative error {TestTensors.RelativeError(actual, expected):e2}");
    }

    [Fact]
    public void AnyOtherSplitInTimeGivesTheSameOutput()
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(5);
        var video = TinyVae.Video(6, 13);
        var encoded = RunEncoder(model, video, [1, 4, 4, 4]);
        Assert.True(TestTensors.RelativeError(RunEncoder(model, video, [13]), encoded) < 1e-12);
        Assert.True(TestTensors.RelativeError(RunEncoder(model, video, [9, 4]), encoded) < 1e-12);
        Assert.True(TestTensors.RelativeError(RunEncoder(model, video, [1, 8, 4]), encoded) < 1e-12);

        var latents = TinyVae.Latents(7, 4);
        var decoded = RunDecoder(model, latents, [1, 1, 1, 1]);
        Assert.True(TestTensors.RelativeError(RunDecoder(model, latents, [4]), decoded) < 1e-12);
        Assert.True(TestTensors.RelativeError(RunDecoder(model, latents, [2, 2]), decoded) < 1e-12);
        Assert.True(TestTensors.RelativeError(RunDecoder(model, latents, [1, 3]), decoded) < 1e-12);
    }

    [Fact]
    public void AChunkThatBreaksTheFramePairingIsRefused()
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(8);
        var video = TinyVae.Video(9, 5);
        using var cache = new CausalCache();
        model.Encoder.Forward(video.narrow(2, 0, 1), cache);
        var error = Assert.Throws<InvalidOperationException>(() => model.Encoder.Forward(video.narrow(2, 1, 3), cache));
        Assert.Contains("even number of frames", error.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(9)]
    public void EncodeAndDecodeEqualTheReferenceWithNormalisation(int frames)
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(10);
        var reference = new VaeReference(model);
        var video = TinyVae.Video(11, frames, dtype: ScalarType.Float32);
        var latents = model.Encode(video);
        Assert.Equal(ScalarType.Float32, latents.dtype);
        // Float32 outputs of a float64 model: the bound is float32 rounding.
        Assert.True(TestTensors.RelativeError(latents, reference.Encode(video)) < 1e-6);

        var decoded = model.Decode(latents);
        Assert.Equal(ScalarType.Float32, decoded.dtype);
        Assert.True(TestTensors.RelativeError(decoded, reference.Decode(latents)) < 1e-6);
        Assert.True(decoded.abs().max().item<float>() <= 1f);
    }

    [Fact]
    public void NormalisationUsesThePublishedMeanAndStd()
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(12);
        var video = TinyVae.Video(13, 1);
        using var cache = new CausalCache();
        var mu = model.QuantConv.Forward(model.Encoder.Forward(video, cache)).narrow(1, 0, 16);
        var latents = model.Encode(video).to(ScalarType.Float64);
        // Channel 7: mean 1.5508, std 2.0743 (public WanVAE).
        var expected = (mu.select(1, 7) - 1.5508) / 2.0743;
        Assert.True(TestTensors.RelativeError(latents.select(1, 7), expected) < 1e-6);
    }

    [Fact]
    public void Bf16RunsCloseToTheFloat64Reference()
    {
        using var scope = NewDisposeScope();
        using var exact = TinyVae.Model(14, TinyVae.Config(8));
        using var model = new WanVae(exact.Config, CPU, ScalarType.BFloat16);
        using (no_grad())
            foreach (var ((_, target), (_, source)) in model.named_parameters().Zip(exact.named_parameters()))
                target.copy_(source);
        var reference = new VaeReference(exact);
        var video = TinyVae.Video(15, 5);
        var latents = TinyVae.Latents(16, 2);
        double encodeError = TestTensors.RelativeError(model.Encode(video), reference.Encode(video));
        double decodeError = TestTensors.RelativeError(model.Decode(latents), reference.Decode(latents));
        // bf16 keeps 8 significant bits (0.4% per rounding); tens of layers of roundings stay within a few percent.
        Assert.True(encodeError < 2e-2, $"encode relative error {encodeError:e2}");
        Assert.True(decodeError < 2e-2, $"decode relative error {decodeError:e2}");
    }

    static Tensor RunEncoder(WanVae model, Tensor video, int[] chunks)
    {
        using var cache = new CausalCache();
        var outputs = new List<Tensor>();
        long start = 0;
        foreach (int length in chunks)
        {
            outputs.Add(model.Encoder.Forward(video.narrow(2, start, length), cache));
            start += length;
        }
        return cat(outputs, 2);
    }

    static Tensor RunDecoder(WanVae model, Tensor latents, int[] chunks)
    {
        using var cache = new CausalCache();
        var outputs = new List<Tensor>();
        long start = 0;
        foreach (int length in chunks)
        {
            outputs.Add(model.Decoder.Forward(latents.narrow(2, start, length), cache));
            start += length;
        }
        return cat(outputs, 2);
    }
}
