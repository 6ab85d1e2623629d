using Svg2.Models.Video;

namespace Svg2.Tests.Video;

/// <summary>Every failed write leaves the folder as it was: no partial output, no temporary file.</summary>
public sealed class NoPartialOutputTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-partial-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string Output => Directory.CreateDirectory(Path.Combine(folder, "out")).FullName;

    [Fact]
    public void AFullDiskInFFmpegLeavesNothingAndSaysWhy()
    {
        string output = Output;
        var tools = FFmpegTools.Find(FFmpegForTests.FailingFFmpeg(folder, """echo "av_interleaved_write_frame(): No space left on device" >&2; exit 1"""))!;
        using var video = TestVideos.Smooth(1, 3, 8, 8);
        string path = Path.Combine(output, "video.mp4");
        var error = Assert.Throws<VideoIOException>(() => Mp4Writer.Write(video, path, 16, tools));
        Assert.Contains(path, error.Message);
        Assert.Contains("No space left on device", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(output));
    }

    [Fact]
    public void AKilledFFmpegLeavesNothingAndSaysSo()
    {
        string output = Output;
        var tools = FFmpegTools.Find(FFmpegForTests.FailingFFmpeg(folder, "kill -9 $$"))!;
        using var video = TestVideos.Smooth(2, 3, 8, 8);
        string path = Path.Combine(output, "video.mp4");
        var error = Assert.Throws<VideoIOException>(() => Mp4Writer.Write(video, path, 16, tools));
        Assert.Contains(path, error.Message);
        Assert.Contains("signal 9", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(output));
    }

    [Fact]
    public void AMissingFolderIsNamedAndNothingIsCreated()
    {
        using var video = TestVideos.Smooth(3, 2, 8, 8);
        string missing = Path.Combine(folder, "no-such-folder");
        var mp4 = Assert.Throws<VideoIOException>(() => Mp4Writer.Write(video, Path.Combine(missing, "video.mp4"), 16, FFmpegForTests.Tools));
        Assert.Contains(missing, mp4.Message);
        var png = Assert.Throws<VideoIOException>(() => PngFrames.Write(video, Path.Combine(missing, "frames")));
        Assert.Contains(missing, png.Message);
        Assert.False(Directory.Exists(missing));
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
    }

    [Fact]
    public void AWriteThatFailsHalfwayLeavesNoFileAndKeepsTheEarlierOne()
    {
        string output = Output;
        string path = Path.Combine(output, "data.bin");
        File.WriteAllText(path, "earlier");
        var error = Assert.Throws<VideoIOException>(() => AtomicOutput.WriteFile(path, temporary =>
        {
            File.WriteAllText(temporary, "half");
            throw new IOException("No space left on device");
        }));
        Assert.Equal($"Could not write {path}: No space left on device", error.Message);
        Assert.Equal(["data.bin"], Directory.GetFiles(output).Select(Path.GetFileName));
        Assert.Equal("earlier", File.ReadAllText(path));
    }

    [Fact]
    public void AFrameFolderThatFailsHalfwayLeavesNothing()
    {
        string output = Output;
        Assert.Throws<VideoIOException>(() => AtomicOutput.WriteFolder(Path.Combine(output, "frames"), _ => true, temporary =>
        {
            File.WriteAllText(Path.Combine(temporary, "frame_00000.png"), "half");
            throw new IOException("No space left on device");
        }));
        Assert.Empty(Directory.EnumerateFileSystemEntries(output));
    }
}
