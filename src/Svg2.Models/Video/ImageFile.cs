using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Video;

/// <summary>Reads still images (PNG, JPEG, WebP, BMP, GIF's first frame: what SkiaSharp decodes).</summary>
public static class ImageFile
{
    /// <summary>
    /// The image as the first frame of an image-to-video generation, as Wan reads it
    /// (<c>PIL.Image.open(path).convert("RGB")</c>, <c>to_tensor</c>, then <c>sub(0.5).div(0.5)</c>):
    /// [3, H, W] float32 in [-1, 1]; an alpha channel is dropped, not blended.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="VideoIOException">The file is not an image SkiaSharp can decode, or it is truncated.</exception>
    public static Tensor ReadSigned(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Image not found: {path}", path);
        using var scope = NewDisposeScope();
        var rgba = ReadRgba(path);
        var unit = rgba[.., .., ..3].permute(2, 0, 1).to(ScalarType.Float32) / 255.0;
        return ((unit - 0.5) / 0.5).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Decodes an image file to unpremultiplied RGBA bytes [H, W, 4].</summary>
    /// <exception cref="VideoIOException">The file is not an image SkiaSharp can decode, or its data ends early.</exception>
    internal static unsafe Tensor ReadRgba(string path)
    {
        using var codec = SKCodec.Create(path, out var status)
            ?? throw new VideoIOException($"{path} is not a readable image ({status}).");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if (info.Width < 1 || info.Height < 1) throw new VideoIOException($"{path} is an empty image ({info.Width}x{info.Height}).");
        var rgba = empty([info.Height, info.Width, 4], ScalarType.Byte);
        fixed (byte* pixels = rgba.bytes)
        {
            var result = codec.GetPixels(info, (IntPtr)pixels);
            if (result != SKCodecResult.Success)
            {
                rgba.Dispose();
                throw new VideoIOException($"{path} could not be decoded ({result}).");
            }
        }
        return rgba;
    }
}
