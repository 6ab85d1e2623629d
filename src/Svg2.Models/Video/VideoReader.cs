using static TorchSharp.torch;

namespace Svg2.Models.Video;

/// <summary>Reads a video file (through ffmpeg) or a folder of PNG frames (no ffmpeg needed) as RGB uint8 frames [F, H, W, 3].</summary>
public static class VideoReader
{
    /// <summary>
    /// Reads <paramref name="path"/>: a folder is read as PNG frames (<see cref="PngFrames.Read"/>), anything else is
    /// decoded by ffmpeg (<see cref="VideoDecoder.Decode"/>) with <paramref name="options"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Options that resize or resample were given for a frame folder.</exception>
    /// <exception cref="VideoIOException">The input is missing or unreadable, its frames differ in size, or ffmpeg is needed and missing.</exception>
    public static Tensor Read(string path, VideoReadOptions? options = null, FFmpegTools? tools = null)
    {
        if (!Directory.Exists(path)) return VideoDecoder.Decode(path, options, tools);
        if (options is { KeepsFrames: false })
            throw new ArgumentException($"{path} is a folder of PNG frames, which is read as it is; resizing or resampling needs a video file.");
        return PngFrames.Read(path);
    }
}
