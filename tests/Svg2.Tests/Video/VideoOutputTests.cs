using Svg2.Models.Video;

namespace Svg2.Tests.Video;

public sealed class VideoOutputTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-output-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void WithoutFFmpegWritesPngFramesAndSaysSo()
    {
        using var video = TestVideos.Noise(8, 3, 6, 8);
        var written = VideoOutput.Write(video, Path.Combine(folder, "clip.mp4"), 16, tools: null);
        Assert.True(written.IsFrameFolder);
        Assert.Equal(Path.Combine(folder, "clip_frames"), written.Path);
        Assert.Contains("ffmpeg was not found", written.Note);
        Assert.False(File.Exists(Path.Combine(folder, "clip.mp4")));
        using var read = PngFrames.Read(written.Path);
        Assert.True(TestVideos.Same(video, read));
    }

    [Fact]
    public void WithFFmpegWritesTheMp4()
    {
        using var video = TestVideos.Smooth(9, 3, 8, 8);
        string path = Path.Combine(folder, "clip.mp4");
        var written = VideoOutput.Write(video, path, 16, FFmpegForTests.Tools);
        Assert.Equal(new WrittenVideo(path, false, null), written);
        Assert.Equal(3, VideoProbe.Of(path, FFmpegForTests.Tools).FrameCount);
    }
}
