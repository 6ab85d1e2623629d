using Spectre.Console;
using Svg2.Models.Video;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>Writes a generated video and, on request, its lossless frames.</summary>
internal static class VideoOutputs
{
    /// <summary>
    /// Writes <paramref name="video"/> ([1, 3, F, H, W] in [-1, 1]) as MP4 (PNG frames when ffmpeg is missing,
    /// with a note) and as PNG frames into <paramref name="losslessFolder"/> when given; returns the paths written.
    /// </summary>
    public static IReadOnlyList<string> Write(Tensor video, double fps, string path, string? losslessFolder)
    {
        var written = new List<string>();
        if (losslessFolder is not null)
        {
            PngFrames.Write(video, Path.GetFullPath(losslessFolder));
            written.Add(Path.GetFullPath(losslessFolder));
        }
        var result = VideoOutput.Write(video, path, fps, FFmpegTools.Find());
        if (result.Note is { } note) AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {note}");
        written.Insert(0, result.Path);
        return written;
    }
}
