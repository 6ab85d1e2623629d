using System.Runtime.InteropServices;
using SkiaSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Rendering;

/// <summary>Writes RGB images to PNG files with SkiaSharp (the renderer ScottPlot brings).</summary>
internal static class PngImage
{
    /// <summary>Writes an RGB image [H, W, 3] uint8.</summary>
    /// <exception cref="ArgumentException">The tensor is not uint8 [H, W, 3].</exception>
    public static void Save(Tensor rgb, string path)
    {
        if (rgb.dtype != ScalarType.Byte || rgb.dim() != 3 || rgb.shape[2] != 3)
            throw new ArgumentException($"An image must be uint8 [H, W, 3]; got {rgb.dtype} [{string.Join(", ", rgb.shape)}].");
        int height = (int)rgb.shape[0], width = (int)rgb.shape[1];
        using var scope = NewDisposeScope();
        var rgba = cat([rgb.cpu(), full(new long[] { height, width, 1 }, 255, ScalarType.Byte)], 2).contiguous();
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = rgba.bytes.ToArray();
        Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
