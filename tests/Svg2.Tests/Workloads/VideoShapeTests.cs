using Svg2.Evaluation.Workloads;

namespace Svg2.Tests.Workloads;

public class VideoShapeTests
{
    [Theory]
    [InlineData("tiny", 4, 6, 8, 4, 32, 0, 192)]
    [InlineData("small", 8, 18, 32, 8, 64, 0, 4_608)]
    [InlineData("wan-1.3b-480p", 21, 30, 52, 12, 128, 0, 32_760)]
    [InlineData("wan-14b-720p", 21, 45, 80, 40, 128, 0, 75_600)]
    [InlineData("wan-i2v-720p", 21, 60, 60, 40, 128, 0, 75_600)]
    [InlineData("wan-i2v-480p", 21, 39, 39, 40, 128, 0, 31_941)]
    [InlineData("hunyuan-720p", 33, 45, 80, 24, 128, 256, 119_056)]
    [InlineData("hunyuan-480p", 33, 30, 45, 24, 128, 256, 44_806)]
    [InlineData("cosmos-720p", 16, 44, 80, 40, 128, 0, 56_320)]
    public void NamedShapesMatchTheReferenceConfigurations(string name, int frames, int height, int width, int heads, int headDim, int text, int sequence)
    {
        var shape = VideoShape.FromName(name);
        Assert.Equal((frames, height, width, heads, headDim, text, 1), (shape.Frames, shape.Height, shape.Width, shape.Heads, shape.HeadDim, shape.TextTokens, shape.Batch));
        Assert.Equal(frames * height * width, shape.VideoTokens);
        Assert.Equal(sequence, shape.SequenceLength);
        Assert.InRange(shape.PromptLength, text == 0 ? 0 : 1, text);
    }

    [Fact]
    public void EveryNamedShapeIsListedOnceAndLookupIgnoresCase()
    {
        Assert.Equal(9, VideoShape.Named.Count);
        Assert.Same(VideoShape.Wan14B720p, VideoShape.FromName("WAN-14B-720P"));
    }

    [Fact]
    public void UnknownNameListsTheKnownShapes()
    {
        var error = Assert.Throws<ArgumentException>(() => VideoShape.FromName("wan-2k"));
        Assert.Contains("wan-2k", error.Message);
        Assert.Contains("hunyuan-480p", error.Message);
    }

    [Fact]
    public void InvalidSizesAreRejectedByName()
    {
        Assert.Equal("Frames", Assert.Throws<ArgumentOutOfRangeException>(() => new VideoShape(0, 4, 4, 2, 32)).ParamName);
        Assert.Equal("HeadDim", Assert.Throws<ArgumentOutOfRangeException>(() => new VideoShape(2, 4, 4, 2, 33)).ParamName);
        Assert.Equal("HeadDim", Assert.Throws<ArgumentOutOfRangeException>(() => new VideoShape(2, 4, 4, 2, 4)).ParamName);
        Assert.Equal("PromptLength", Assert.Throws<ArgumentOutOfRangeException>(() => new VideoShape(2, 4, 4, 2, 32, TextTokens: 8, PromptLength: 9)).ParamName);
        Assert.Equal("Batch", Assert.Throws<ArgumentOutOfRangeException>(() => new VideoShape(2, 4, 4, 2, 32, Batch: 0)).ParamName);
    }
}
