using Svg2.Models.Video;

namespace Svg2.Tests.Video;

public sealed class VideoReaderTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-read-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void ScalesAndCropsWhileDecoding()
    {
        string path = FFmpegForTests.TestPattern(folder, "pattern.mp4", frames: 12, width: 64, height: 48, rate: 12);
        var probe = VideoProbe.Of(path, FFmpegForTests.Tools);
        Assert.Equal((64, 48, 12.0, 12L), (probe.Width, probe.Height, probe.Fps, probe.FrameCount!.Value));

        using var covered = VideoReader.Read(path, new VideoReadOptions { Size = new FrameSize(16, 32), Fit = FrameFit.Cover, Fps = 6 }, FFmpegForTests.Tools);
        Assert.Equal(new long[] { 6, 16, 32, 3 }, covered.shape);
        using var stretched = VideoReader.Read(path, new VideoReadOptions { Size = new FrameSize(10, 10) }, FFmpegForTests.Tools);
        Assert.Equal(new long[] { 12, 10, 10, 3 }, stretched.shape);
    }

    [Fact]
    public void NamesAnUnreadableVideo()
    {
        string path = Path.Combine(folder, "broken.mp4");
        File.WriteAllText(path, "not a video");
        var error = Assert.Throws<VideoIOException>(() => VideoReader.Read(path, tools: FFmpegForTests.Tools));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void NamesAMissingVideo()
    {
        string path = Path.Combine(folder, "absent.mp4");
        Assert.Contains($"{path} does not exist", Assert.Throws<VideoIOException>(() => VideoReader.Read(path, tools: FFmpegForTests.Tools)).Message);
    }

    [Fact]
    public void SaysWhereFFmpegWasLookedFor()
    {
        string missing = Path.Combine(folder, "no-ffmpeg-here", "ffmpeg");
        Assert.Contains(missing, Assert.Throws<FFmpegNotFoundException>(() => FFmpegTools.Find(missing)).Message);

        string onlyFFmpeg = Directory.CreateDirectory(Path.Combine(folder, "bin")).FullName;
        File.WriteAllText(Path.Combine(onlyFFmpeg, "ffmpeg"), "");
        string video = Path.Combine(folder, "v.mp4");
        File.WriteAllText(video, "");
        var error = Assert.Throws<FFmpegNotFoundException>(() => VideoReader.Read(video, tools: FFmpegTools.Find(onlyFFmpeg)));
        Assert.Contains("ffprobe was not found", error.Message);
    }

    [Fact]
    public void AFrameFolderIsReadWithoutFFmpegButNotResized()
    {
        using var video = TestVideos.Noise(5, 2, 6, 4);
        string frames = Path.Combine(folder, "frames");
        PngFrames.Write(video, frames);
        using (var read = VideoReader.Read(frames)) Assert.True(TestVideos.Same(video, read));
        Assert.Throws<ArgumentException>(() => VideoReader.Read(frames, new VideoReadOptions { Size = new FrameSize(2, 2) }));
    }
}
