using System.Globalization;
using FFMpegCore;
using static TorchSharp.torch;

namespace Svg2.Models.Video;

/// <summary>
/// Decodes a video file with ffmpeg (through FFMpegCore) into RGB uint8 frames [F, H, W, 3], optionally resampled in
/// time and scaled. The decoded frames are gathered in memory, so a decoded video must stay under 2 GiB (scale
/// long footage down while decoding).
/// </summary>
public static class VideoDecoder
{
    /// <summary>Decodes every frame of <paramref name="path"/> (after <paramref name="options"/>' resampling).</summary>
    /// <exception cref="VideoIOException">ffmpeg or ffprobe is missing, the file is missing or unreadable, or decoding failed.</exception>
    public static Tensor Decode(string path, VideoReadOptions? options = null, FFmpegTools? tools = null)
    {
        options ??= new VideoReadOptions();
        if (options.Fps is { } rate && !(rate > 0 && !double.IsInfinity(rate))) throw new ArgumentException($"The frame rate must be positive; got {rate}.");
        tools ??= FFmpegTools.Require();
        var probe = VideoProbe.Of(path, tools);
        var size = options.Size ?? new FrameSize(probe.Height, probe.Width);
        var filters = new List<string>();
        if (options.Fps is { } fps) filters.Add($"fps={fps.ToString("R", CultureInfo.InvariantCulture)}");
        if (options.Size is { } target)
            filters.Add(options.Fit == FrameFit.Cover
                ? $"scale={target.Width}:{target.Height}:force_original_aspect_ratio=increase,crop={target.Width}:{target.Height}"
                : $"scale={target.Width}:{target.Height}");
        string filter = filters.Count > 0 ? $" -vf {string.Join(',', filters)}" : "";

        // A temporary raw file rather than FFMpegCore's pipe sink: the pipe can come back empty when ffmpeg
        // finishes before the sink connects (seen under load), and a file has no such race.
        string raw = Path.Combine(Path.GetTempPath(), $"svg2-decode-{Guid.NewGuid():N}.rgb");
        try
        {
            var job = FFMpegArguments.FromFileInput(path, verifyExists: false)
                .OutputToFile(raw, overwrite: true, output => output
                    .ForceFormat("rawvideo")
                    .WithCustomArgument($"-an -sn -pix_fmt rgb24{filter}"));
            FFmpegRun.Execute(job, tools, $"decode {path}");

            long frameBytes = 3L * size.Height * size.Width;
            long length = File.Exists(raw) ? new FileInfo(raw).Length : 0;
            if (length == 0) throw new VideoIOException($"{path} decoded to no frames.");
            if (length % frameBytes != 0)
                throw new VideoIOException($"{path} decoded to {length} bytes, not a whole number of {size.Width}x{size.Height} RGB frames.");
            var frames = empty([length / frameBytes, size.Height, size.Width, 3], ScalarType.Byte);
            frames.bytes = File.ReadAllBytes(raw);
            return frames;
        }
        finally
        {
            File.Delete(raw);
        }
    }
}
