using static TorchSharp.torch;

namespace Svg2.Tests.Video;

static class TestVideos
{
    /// <summary>
    /// Smooth moving colour waves, uint8 [F, H, W, 3]: seeded low spatial frequencies per channel, drifting in time,
    /// within [27, 228] so no value clips. Content that lossy coding keeps well.
    /// </summary>
    public static Tensor Smooth(int seed, int frames, int height, int width)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var parameters = rand([3, 4], ScalarType.Float64, generator: generator);
        var t = arange(frames, ScalarType.Float64).reshape(frames, 1, 1, 1);
        var y = arange(height, ScalarType.Float64).reshape(1, height, 1, 1) / height;
        var x = arange(width, ScalarType.Float64).reshape(1, 1, width, 1) / width;
        var fx = 0.5 + parameters[.., 0] * 1.5;
        var fy = 0.5 + parameters[.., 1] * 1.5;
        var ft = 0.02 + parameters[.., 2] * 0.05;
        var phase = parameters[.., 3] * 2 * Math.PI;
        var wave = (2 * Math.PI * (fx * x + fy * y + ft * t) + phase).sin();
        return (127.5 + 100 * wave).round().to(ScalarType.Byte).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>True when both tensors have one shape and equal elements.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>Uniform random uint8 frames [F, H, W, 3].</summary>
    public static Tensor Noise(int seed, int frames, int height, int width)
    {
        using var generator = new Generator((ulong)seed);
        return randint(0, 256, [frames, height, width, 3], ScalarType.Byte, generator: generator);
    }
}
