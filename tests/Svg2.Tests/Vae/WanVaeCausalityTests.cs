using static TorchSharp.torch;

namespace Svg2.Tests.Vae;

/// <summary>Changing a frame never changes what comes before it, and does change what comes after.</summary>
public sealed class WanVaeCausalityTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(4, 1)]
    [InlineData(5, 2)]
    [InlineData(8, 2)]
    public void AVideoFrameAffectsOnlyItsLatentFrameAndLaterOnes(int frame, int latentFrame)
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(20);
        var video = TinyVae.Video(21, 9, dtype: ScalarType.Float32);
        var changed = video.clone();
        changed.narrow(2, frame, 1).mul_(-0.5);
        var before = model.Encode(video);
        var after = model.Encode(changed);
        Assert.True(before.narrow(2, 0, latentFrame).eq(after.narrow(2, 0, latentFrame)).all().item<bool>(),
            $"changing frame {frame} changed a latent frame before {latentFrame}");
        Assert.False(before.narrow(2, latentFrame, 1).allclose(after.narrow(2, latentFrame, 1)));
        Assert.False(before.narrow(2, 2, 1).allclose(after.narrow(2, 2, 1)));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(2, 5)]
    public void ALatentFrameAffectsOnlyItsVideoFramesAndLaterOnes(int latentFrame, int firstFrame)
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(22);
        var latents = TinyVae.Latents(23, 3, dtype: ScalarType.Float32);
        var changed = latents.clone();
        changed.narrow(2, latentFrame, 1).add_(1.0);
        var before = model.Decode(latents);
        var after = model.Decode(changed);
        Assert.True(before.narrow(2, 0, firstFrame).eq(after.narrow(2, 0, firstFrame)).all().item<bool>(),
            $"changing latent frame {latentFrame} changed a video frame before {firstFrame}");
        Assert.False(before.narrow(2, firstFrame, 1).allclose(after.narrow(2, firstFrame, 1)));
        Assert.False(before.narrow(2, 8, 1).allclose(after.narrow(2, 8, 1)));
    }
}
