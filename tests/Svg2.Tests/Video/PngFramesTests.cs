using Svg2.Models.Video;

namespace Svg2.Tests.Video;

public sealed class PngFramesTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-png-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void RoundTripIsExact()
    {
        using var video = TestVideos.Noise(seed: 21, frames: 3, height: 17, width: 23);
        string frames = Path.Combine(folder, "frames");
        PngFrames.Write(video, frames);
        Assert.Equal(["frame_00000.png", "frame_00001.png", "frame_00002.png"], Directory.GetFiles(frames).Select(Path.GetFileName).Order());
        using var read = PngFrames.Read(frames);
        Assert.True(TestVideos.Same(video, read));
    }

    [Fact]
    public void ReplacesAnEarlierWriteButNoOtherFile()
    {
        string frames = Path.Combine(folder, "frames");
        using (var first = TestVideos.Noise(1, 4, 8, 8)) PngFrames.Write(first, frames);
        using var second = TestVideos.Noise(2, 2, 8, 8);
        PngFrames.Write(second, frames);
        using (var read = PngFrames.Read(frames)) Assert.True(TestVideos.Same(second, read));

        File.WriteAllText(Path.Combine(frames, "notes.txt"), "keep me");
        var error = Assert.Throws<VideoIOException>(() => PngFrames.Write(second, frames));
        Assert.Contains("notes.txt", error.Message);
        Assert.True(File.Exists(Path.Combine(frames, "notes.txt")));
    }

    [Fact]
    public void NamesAFrameOfAnotherSize()
    {
        string frames = Path.Combine(folder, "mixed");
        using (var video = TestVideos.Noise(3, 2, 8, 10)) PngFrames.Write(video, frames);
        string other = Path.Combine(folder, "other");
        using (var video = TestVideos.Noise(4, 1, 8, 12)) PngFrames.Write(video, other);
        File.Move(Path.Combine(other, "frame_00000.png"), Path.Combine(frames, "frame_00002.png"));
        var error = Assert.Throws<VideoIOException>(() => PngFrames.Read(frames));
        Assert.Contains("frame_00002.png is 12x8", error.Message);
        Assert.Contains("10x8", error.Message);
    }

    [Fact]
    public void NamesAnUnreadableFrameAndAnEmptyFolder()
    {
        string frames = Directory.CreateDirectory(Path.Combine(folder, "broken")).FullName;
        Assert.Contains("holds no .png file", Assert.Throws<VideoIOException>(() => PngFrames.Read(frames)).Message);
        File.WriteAllText(Path.Combine(frames, "frame_00000.png"), "not an image");
        Assert.Contains("frame_00000.png is not a readable image", Assert.Throws<VideoIOException>(() => PngFrames.Read(frames)).Message);
    }
}
