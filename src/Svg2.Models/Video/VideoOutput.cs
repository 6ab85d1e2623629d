using static TorchSharp.torch;

namespace Svg2.Models.Video;

/// <summary>Saves a generated video as MP4, or as PNG frames where no ffmpeg is found, so that a long generation is never lost.</summary>
public static class VideoOutput
{
    /// <summary>
    /// Writes <paramref name="video"/> to the MP4 file <paramref name="path"/> at <paramref name="fps"/> with
    /// <paramref name="tools"/>. Without ffmpeg (<paramref name="tools"/> null, as <see cref="FFmpegTools.Find"/>
    /// returns when there is none), writes PNG frames into the folder <c>&lt;path without extension&gt;_frames</c>
    /// instead and says so in <see cref="WrittenVideo.Note"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The video has a bad layout or size, or the rate is not positive.</exception>
    /// <exception cref="VideoIOException">Writing failed; nothing partial is left behind.</exception>
    public static WrittenVideo Write(Tensor video, string path, double fps, FFmpegTools? tools)
    {
        if (tools is not null)
        {
            Mp4Writer.Write(video, path, fps, tools);
            return new WrittenVideo(path, false, null);
        }
        string folder = Path.Combine(Path.GetDirectoryName(path) ?? "", Path.GetFileNameWithoutExtension(path) + "_frames");
        PngFrames.Write(video, folder);
        return new WrittenVideo(folder, true,
            $"ffmpeg was not found (PATH, {FFmpegTools.EnvironmentVariable}); wrote lossless PNG frames to {folder} instead of {path}.");
    }
}
