using SkiaSharp;
using Svg2.Models.Video;
using static TorchSharp.torch;

namespace Svg2.Tests.Video;

public sealed class ImageFileTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("svg2-image-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Writes an RGBA image with SkiaSharp and returns its bytes [H, W, 4].</summary>
    string Write(string name, byte[,,] rgba, SKEncodedImageFormat format)
    {
        int height = rgba.GetLength(0), width = rgba.GetLength(1);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor(rgba[y, x, 0], rgba[y, x, 1], rgba[y, x, 2], rgba[y, x, 3]));
        string path = Path.Combine(_folder, name);
        using var data = bitmap.Encode(format, 100);
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    static byte[,,] Random(int seed, int height, int width, bool opaque)
    {
        var random = new Random(seed);
        var rgba = new byte[height, width, 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < 4; c++)
                    rgba[y, x, c] = c == 3 ? (opaque ? (byte)255 : (byte)random.Next(1, 256)) : (byte)random.Next(256);
        return rgba;
    }

    [Fact]
    public void APngReadsAsChannelsFirstInMinusOneToOneWithAlphaDropped()
    {
        var rgba = Random(41, 5, 7, opaque: false);
        using var image = ImageFile.ReadSigned(Write("a.png", rgba, SKEncodedImageFormat.Png));
        Assert.Equal(new long[] { 3, 5, 7 }, image.shape);
        Assert.Equal(ScalarType.Float32, image.dtype);
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 7; x++)
                for (int c = 0; c < 3; c++)
                    Assert.Equal((rgba[y, x, c] / 255f - 0.5f) / 0.5f, image[c, y, x].item<float>(), 1e-6f);
    }

    [Fact]
    public void AJpegReadsCloseToItsPixels()
    {
        var rgba = new byte[16, 16, 4];
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                (rgba[y, x, 0], rgba[y, x, 1], rgba[y, x, 2], rgba[y, x, 3]) = ((byte)(x * 16), (byte)(y * 16), 128, 255);
        using var image = ImageFile.ReadSigned(Write("b.jpg", rgba, SKEncodedImageFormat.Jpeg));
        Assert.Equal(new long[] { 3, 16, 16 }, image.shape);
        Assert.InRange(image[0, 8, 15].item<float>(), 0.7f, 1f);
        Assert.InRange(image[1, 0, 8].item<float>(), -1f, -0.8f);
    }

    [Fact]
    public void AMissingGarbageOrTruncatedFileIsAClearError()
    {
        Assert.Throws<FileNotFoundException>(() => ImageFile.ReadSigned(Path.Combine(_folder, "none.png")));
        string garbage = Path.Combine(_folder, "garbage.png");
        File.WriteAllText(garbage, "not an image at all");
        Assert.Contains("garbage.png is not a readable image", Assert.Throws<VideoIOException>(() => ImageFile.ReadSigned(garbage)).Message);
        string whole = Write("whole.png", Random(42, 64, 64, opaque: true), SKEncodedImageFormat.Png);
        string truncated = Path.Combine(_folder, "truncated.png");
        var bytes = File.ReadAllBytes(whole);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        Assert.Contains("truncated.png", Assert.Throws<VideoIOException>(() => ImageFile.ReadSigned(truncated)).Message);
    }
}
