using static TorchSharp.torch;

namespace Svg2.Models.Quality;

/// <summary>
/// Peak signal-to-noise ratio per frame, as the SVG2 reference computes it: frames in [0, 1], the mean squared
/// error over all channels and pixels of a frame, PSNR = 10 log10(1 / MSE), in float64.
/// </summary>
public static class Psnr
{
    /// <summary>Each frame's PSNR in dB; +infinity where the frames are identical.</summary>
    /// <param name="a">Frames [N, C, H, W] in [0, 1], any floating type.</param>
    /// <param name="b">Frames of the same shape.</param>
    /// <exception cref="ArgumentException">The shapes differ or are not 4-D.</exception>
    public static double[] PerFrame(Tensor a, Tensor b)
    {
        UnitFrames.RequireSameFrames(a, b);
        using var scope = NewDisposeScope();
        var difference = a.to(ScalarType.Float64) - b.to(ScalarType.Float64);
        var mse = difference.square().mean([1, 2, 3]);
        return (-10 * mse.log10()).data<double>().ToArray();
    }
}
