using System.Globalization;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Video;

/// <summary>
/// A video as a folder of lossless RGB PNG frames (<c>frame_00000.png</c>, <c>frame_00001.png</c>, ...), written and
/// read with SkiaSharp, so neither needs ffmpeg. Reading takes every <c>.png</c> file of a folder in file-name order.
/// </summary>
public static class PngFrames
{
    const string Prefix = "frame_";
    const string Extension = ".png";

    /// <summary>The file name of frame <paramref name="index"/>.</summary>
    public static string FrameName(int index) => Prefix + index.ToString("D5", CultureInfo.InvariantCulture) + Extension;

    /// <summary>
    /// Writes <paramref name="video"/> (any layout <see cref="VideoFrames.ToUInt8"/> takes) as PNG frames into
    /// <paramref name="folder"/>, created whole or not at all. An existing folder is replaced only when it holds
    /// nothing but frames of this naming (an earlier write).
    /// </summary>
    /// <exception cref="ArgumentException">The video has a bad layout.</exception>
    /// <exception cref="VideoIOException">The parent folder is missing, the folder holds other files, or a write failed.</exception>
    public static void Write(Tensor video, string folder)
    {
        using var frames = VideoFrames.ToUInt8(video);
        AtomicOutput.WriteFolder(folder, IsFrameName, temporary =>
        {
            for (int i = 0; i < frames.shape[0]; i++)
            {
                using var frame = frames[i];
                WriteFrame(frame, Path.Combine(temporary, FrameName(i)));
            }
        });
    }

    /// <summary>Reads every <c>.png</c> file of <paramref name="folder"/>, in ordinal file-name order, as uint8 [F, H, W, 3].</summary>
    /// <exception cref="VideoIOException">The folder is missing or has no PNG, a file is not a readable image, or frame sizes differ.</exception>
    public static Tensor Read(string folder)
    {
        if (!Directory.Exists(folder)) throw new VideoIOException($"The frame folder {folder} does not exist.");
        var files = Directory.EnumerateFiles(folder, "*" + Extension).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new VideoIOException($"The frame folder {folder} holds no {Extension} file.");
        Tensor? video = null;
        try
        {
            for (int i = 0; i < files.Count; i++)
            {
                using var rgba = ImageFile.ReadRgba(files[i]);
                if (video is null) video = empty([files.Count, rgba.shape[0], rgba.shape[1], 3], ScalarType.Byte);
                else if (rgba.shape[0] != video.shape[1] || rgba.shape[1] != video.shape[2])
                    throw new VideoIOException($"{files[i]} is {rgba.shape[1]}x{rgba.shape[0]} but {Path.GetFileName(files[0])} is {video.shape[2]}x{video.shape[1]} (W x H): the frames of a folder must share one size.");
                using var slot = video[i];
                using var rgb = rgba[.., .., ..3];
                slot.copy_(rgb);
            }
            return video!;
        }
        catch
        {
            video?.Dispose();
            throw;
        }
    }

    static bool IsFrameName(string name) =>
        name.StartsWith(Prefix, StringComparison.Ordinal) && name.EndsWith(Extension, StringComparison.Ordinal)
        && name.Length > Prefix.Length + Extension.Length && name[Prefix.Length..^Extension.Length].All(char.IsAsciiDigit);

    static unsafe void WriteFrame(Tensor rgb, string path)
    {
        long height = rgb.shape[0], width = rgb.shape[1];
        using var alpha = full([height, width, 1], (byte)255, ScalarType.Byte);
        using var rgba = cat([rgb, alpha], 2).contiguous();
        var info = new SKImageInfo((int)width, (int)height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        fixed (byte* pixels = rgba.bytes)
        {
            using var pixmap = new SKPixmap(info, (IntPtr)pixels);
            using var png = pixmap.Encode(SKEncodedImageFormat.Png, 100)
                ?? throw new VideoIOException($"Could not encode {width}x{height} frame as PNG for {path}.");
            using var file = File.Create(path);
            png.SaveTo(file);
        }
    }
}
