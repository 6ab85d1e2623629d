using Svg2.Models.Quality;
using Svg2.Models.Video;
using static TorchSharp.torch;

namespace Svg2.Tests.Video;

public sealed class Mp4WriterTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-mp4-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void WritesEveryFrameAtTheRateAndDecodesBackClose()
    {
        using var video = TestVideos.Smooth(seed: 11, frames: 9, height: 48, width: 64);
        string path = Path.Combine(folder, "smooth.mp4");
        Mp4Writer.Write(video, path, fps: 16, FFmpegForTests.Tools);

        // ffprobe, run as its own process, counts the decoded frames and reads the stream's format.
        string[] fields = FFmpegForTests.Run("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=nb_read_frames,codec_name,pix_fmt,r_frame_rate,width,height", "-of", "default=noprint_wrappers=1", path)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("nb_read_frames=9", fields);
        Assert.Contains("codec_name=h264", fields);
        Assert.Contains("pix_fmt=yuv420p", fields);
        Assert.Contains("r_frame_rate=16/1", fields);
        Assert.Contains("width=64", fields);
        Assert.Contains("height=48", fields);

        // H.264 and 4:2:0 chroma are lossy; smooth content at CRF 18 comes back well above 30 dB in every frame.
        using var decoded = VideoReader.Read(path, tools: FFmpegForTests.Tools);
        Assert.Equal(video.shape, decoded.shape);
        var comparison = VideoComparison.Compute(video, decoded);
        Assert.All(comparison.Psnr, p => Assert.InRange(p, 30.0, double.PositiveInfinity));
        Assert.InRange(comparison.MeanSsim, 0.95, 1.0);
    }

    [Fact]
    public void TakesTheModelsFloatLayouts()
    {
        // [1, 3, F, H, W] in [-1, 1], as a VAE decodes.
        using var generator = new Generator(5);
        using var video = rand([1, 3, 4, 16, 24], generator: generator) * 2 - 1;
        string path = Path.Combine(folder, "float.mp4");
        Mp4Writer.Write(video, path, fps: 16, FFmpegForTests.Tools);
        var probe = VideoProbe.Of(path, FFmpegForTests.Tools);
        Assert.Equal((4L, 24, 16), (probe.FrameCount!.Value, probe.Width, probe.Height));
    }

    [Fact]
    public void RefusesAnOddFrameSizeBeforeWriting()
    {
        using var video = TestVideos.Noise(1, 2, 15, 16);
        string path = Path.Combine(folder, "odd.mp4");
        var error = Assert.Throws<ArgumentException>(() => Mp4Writer.Write(video, path, 16, FFmpegForTests.Tools));
        Assert.Contains("16x15", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
    }
}
