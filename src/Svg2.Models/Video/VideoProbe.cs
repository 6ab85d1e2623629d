using System.Globalization;
using System.Text.Json;
using FFMpegCore;
using FFMpegCore.Exceptions;

namespace Svg2.Models.Video;

/// <summary>What ffprobe says of a video file's first video stream.</summary>
/// <param name="Width">Displayed width in pixels (after the stream's rotation).</param>
/// <param name="Height">Displayed height in pixels.</param>
/// <param name="Fps">Average frame rate.</param>
/// <param name="FrameCount">The container's frame count, when it records one (AVI and MP4 do; Matroska does not).</param>
/// <param name="Duration">The stream's duration.</param>
/// <param name="Codec">The codec's short name (h264, mpeg4, ...).</param>
public sealed record VideoProbe(int Width, int Height, double Fps, long? FrameCount, TimeSpan Duration, string Codec)
{
    /// <summary>Runs ffprobe on <paramref name="path"/>.</summary>
    /// <exception cref="VideoIOException">The file is missing or not a video ffprobe can read, or ffprobe is missing.</exception>
    public static VideoProbe Of(string path, FFmpegTools? tools = null)
    {
        if (!File.Exists(path)) throw new VideoIOException($"The video {path} does not exist.");
        tools ??= FFmpegTools.Require();
        tools.RequireFFprobe();
        IMediaAnalysis analysis;
        try
        {
            analysis = FFProbe.Analyse(path, tools.Options);
        }
        catch (Exception error) when (error is FFMpegException or JsonException or InvalidOperationException or FormatException)
        {
            throw new VideoIOException($"ffprobe cannot read {path} as a video: {FirstLine(error.Message)}", error);
        }
        var stream = analysis.PrimaryVideoStream ?? throw new VideoIOException($"{path} has no video stream.");
        if (stream.Width is not > 0 || stream.Height is not > 0) throw new VideoIOException($"ffprobe gives {path} no frame size.");
        bool turned = Math.Abs(stream.Rotation) % 180 == 90;
        double fps = stream.AverageFrameRate is > 0 and < double.PositiveInfinity ? stream.AverageFrameRate : stream.RealFrameRate;
        if (!(fps is > 0 and < double.PositiveInfinity)) throw new VideoIOException($"ffprobe gives {path} no frame rate.");
        var raw = analysis.Raw.Streams.FirstOrDefault(s => s.Index == stream.Index);
        long? frames = raw?.ExtensionData is { } extra && extra.TryGetValue("nb_frames", out var count)
            && long.TryParse(count.ValueKind == JsonValueKind.String ? count.GetString() : count.GetRawText(), NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0
            ? n : null;
        return new VideoProbe(turned ? stream.Height.Value : stream.Width.Value, turned ? stream.Width.Value : stream.Height.Value,
            fps, frames, stream.Duration > TimeSpan.Zero ? stream.Duration : analysis.Duration, stream.CodecName ?? "");
    }

    static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? text;
}
