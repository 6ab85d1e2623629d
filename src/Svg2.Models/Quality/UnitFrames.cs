using Svg2.Models.Video;
using static TorchSharp.torch;

namespace Svg2.Models.Quality;

/// <summary>The metrics' input layout: float64 frames [N, 3, H, W] in [0, 1], as the reference reads videos.</summary>
internal static class UnitFrames
{
    /// <summary>Frames <paramref name="first"/> to first + count of uint8 [F, H, W, 3] as float64 [count, 3, H, W] / 255.</summary>
    public static Tensor Slice(Tensor frames, long first, long count)
    {
        using var slice = frames.narrow(0, first, count);
        return slice.permute(0, 3, 1, 2).to(ScalarType.Float64).div_(255.0);
    }

    public static void RequireSameFrames(Tensor a, Tensor b)
    {
        if (a.dim() != 4 || !a.shape.SequenceEqual(b.shape))
            throw new ArgumentException($"Metrics take two frame batches [N, C, H, W] of one shape; got {VideoFrames.Shape(a)} and {VideoFrames.Shape(b)}.");
    }
}
