using Svg2.Models.Pipelines;
using static TorchSharp.torch;

namespace Svg2.Tests.Pipelines;

public class ImageToVideoConditionTests
{
    [Theory]
    [InlineData(81, 4)]
    [InlineData(5, 4)]
    [InlineData(1, 4)]
    [InlineData(3, 1)]
    public void TheMaskIsWansRepeatedFirstFrameFlagGroupedIntoChannels(int frames, int temporal)
    {
        // wan/image2video.py step by step: ones, zero after the first frame, the first repeated, grouped, transposed.
        var flags = ones(1, frames, 3, 5);
        flags[.., 1..] = 0;
        using var repeated = cat([flags[.., 0..1].repeat_interleave(temporal, 1), flags[.., 1..]], 1);
        using var expected = repeated.view(1, repeated.shape[1] / temporal, temporal, 3, 5).transpose(1, 2)[0];

        using var mask = ImageToVideoCondition.Mask(frames, 3, 5, temporal);
        long latentFrames = (frames - 1) / temporal + 1;
        Assert.Equal(new long[] { temporal, latentFrames, 3, 5 }, mask.shape);
        Assert.True(mask.equal(expected).all().item<bool>());
        Assert.Equal(temporal * 15, mask.sum().item<float>());
        Assert.Equal(temporal * 15, mask[.., 0].sum().item<float>());
    }

    [Fact]
    public void TheMaskRefusesAFrameCountTheCodecCannotMake()
    {
        Assert.Contains("4n+1", Assert.Throws<ArgumentException>(() => ImageToVideoCondition.Mask(6, 2, 2, 4)).Message);
    }

    [Fact]
    public void TheFirstFrameIsTheBicubicResizeAndTheOtherFramesAreBlack()
    {
        using var image = rand([3, 10, 14], generator: new Generator(31)) * 2 - 1;
        using var video = ImageToVideoCondition.FirstFrameVideo(image, 5, 8, 12);
        using var expected = nn.functional.interpolate(image.unsqueeze(0), [8, 12], mode: InterpolationMode.Bicubic, align_corners: false);
        Assert.Equal(new long[] { 1, 3, 5, 8, 12 }, video.shape);
        Assert.True(video[.., .., 0].equal(expected).all().item<bool>());
        Assert.Equal(0f, video[.., .., 1..].abs().max().item<float>());
        // Wan does not clamp the bicubic overshoot of a sharp edge.
        using var edge = cat([full(3, 10, 7, -1f), full(3, 10, 7, 1f)], 2);
        using var sharp = ImageToVideoCondition.FirstFrameVideo(edge, 1, 10, 30);
        Assert.True(sharp.max().item<float>() > 1f);
    }

    [Fact]
    public void TheConditionIsTheMaskThenTheCodecLatentsOfTheFirstFrameVideo()
    {
        var codec = new BlockCodec(4);
        using var image = rand([3, 9, 7], generator: new Generator(32)) * 2 - 1;
        using var condition = ImageToVideoCondition.Build(codec, image, 3, 6, 8);
        Assert.Equal(new long[] { 1, 1 + 4, 3, 3, 4 }, condition.shape);
        using var mask = ImageToVideoCondition.Mask(3, 3, 4, 1);
        using var latents = codec.Encode(ImageToVideoCondition.FirstFrameVideo(image, 3, 6, 8));
        Assert.True(condition[0, ..1].equal(mask).all().item<bool>());
        Assert.True(condition[.., 1..].equal(latents).all().item<bool>());
        Assert.Contains("multiple", Assert.Throws<ArgumentException>(() => ImageToVideoCondition.Build(codec, image, 3, 7, 8)).Message);
    }

    [Theory]
    [InlineData(1280, 720, 1280 * 720, 1280, 720)]
    [InlineData(720, 1280, 1280 * 720, 720, 1280)]
    [InlineData(640, 427, 832 * 480, 768, 512)]
    [InlineData(1000, 1000, 1280 * 720, 960, 960)]
    [InlineData(48, 32, 32 * 32, 32, 16)]
    public void TheVideoSizeFollowsTheImagesAspectRatioAtTheArea(int imageWidth, int imageHeight, long area, int width, int height)
    {
        Assert.Equal((width, height), ImageToVideoSize.For(imageWidth, imageHeight, area, 8, 2));
    }

    [Fact]
    public void AnAspectRatioTooExtremeForOneTokenIsRefused()
    {
        Assert.Contains("too extreme", Assert.Throws<ArgumentException>(() => ImageToVideoSize.For(4000, 10, 32 * 32, 8, 2)).Message);
    }
}
