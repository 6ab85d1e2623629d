using Svg2.Models.Video;
using static TorchSharp.torch;

namespace Svg2.Tests.Video;

public sealed class VideoFramesTests
{
    [Fact]
    public void MapsMinusOneToOneOntoTheByteLevelsRoundingToNearest()
    {
        using var values = tensor(new float[] { -1.5f, -1, -0.5f, 0, 0.5f, 1, 2, 0.00392f }).reshape(1, 1, 8, 1).expand(1, 1, 8, 3);
        using var frames = VideoFrames.ToUInt8(values);
        var expected = new byte[] { 0, 0, 64, 128, 191, 255, 255, 128 };
        Assert.Equal(expected, frames[0, 0, .., 0].data<byte>().ToArray());
    }

    [Fact]
    public void ChannelsFirstAndChannelsLastGiveTheSameFrames()
    {
        using var generator = new Generator(3);
        using var channelsLast = rand([5, 6, 7, 3], ScalarType.Float64, generator: generator) * 2 - 1;
        using var channelsFirst = channelsLast.permute(3, 0, 1, 2).unsqueeze(0).to(ScalarType.BFloat16);
        using var a = VideoFrames.ToUInt8(channelsLast.to(ScalarType.BFloat16));
        using var b = VideoFrames.ToUInt8(channelsFirst);
        Assert.Equal(new long[] { 5, 6, 7, 3 }, b.shape);
        Assert.True(TestVideos.Same(a, b));
    }

    [Fact]
    public void ModelInputMapsBackToTheSameBytes()
    {
        using var frames = TestVideos.Noise(4, 3, 5, 6);
        using var input = VideoFrames.ToModelInput(frames);
        Assert.Equal(new long[] { 1, 3, 3, 5, 6 }, input.shape);
        Assert.InRange(input.min().item<float>(), -1f, -0.99f);
        Assert.InRange(input.max().item<float>(), 0.99f, 1f);
        using var back = VideoFrames.ToUInt8(input);
        Assert.True(TestVideos.Same(frames, back));

        using var clips = frames.unsqueeze(0).expand(2, -1, -1, -1, -1);
        using var batch = VideoFrames.ToModelInput(clips, ScalarType.BFloat16);
        Assert.Equal(new long[] { 2, 3, 3, 5, 6 }, batch.shape);
        Assert.Equal(ScalarType.BFloat16, batch.dtype);
    }

    [Theory]
    [InlineData(new long[] { 2, 3, 4 }, "[2, 3, 4]")]
    [InlineData(new long[] { 2, 3, 4, 5, 6 }, "[2, 3, 4, 5, 6]")]
    public void NamesAnUnknownLayout(long[] shape, string named)
    {
        using var video = zeros(shape);
        Assert.Contains(named, Assert.Throws<ArgumentException>(() => VideoFrames.ToUInt8(video)).Message);
    }

    [Fact]
    public void RefusesNaN()
    {
        using var video = zeros(2, 4, 4, 3);
        video[1, 2, 3, 0] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => VideoFrames.ToUInt8(video)).Message);
    }
}
