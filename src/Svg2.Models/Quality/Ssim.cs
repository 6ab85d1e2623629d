using static TorchSharp.torch;

namespace Svg2.Models.Quality;

/// <summary>
/// Structural similarity per frame, as the SVG2 reference computes it: frames in [0, 1] (data range 1), constants
/// C1 = 0.01^2 and C2 = 0.03^2, local means, variances and covariance over an 11x11 window applied to each channel
/// with stride 1 and zero padding 5 (the padded zeros count in the average), and the frame's value the mean of the
/// SSIM map over all channels and pixels. Computed in float64 as a depthwise conv2d.
/// </summary>
public static class Ssim
{
    /// <summary>The window's side.</summary>
    public const int WindowSize = 11;

    /// <summary>The Gaussian window's standard deviation.</summary>
    public const double GaussianSigma = 1.5;

    const double C1 = 0.01 * 0.01;
    const double C2 = 0.03 * 0.03;

    /// <summary>Each frame's SSIM (1 where the frames are identical).</summary>
    /// <param name="a">Frames [N, C, H, W] in [0, 1], any floating type.</param>
    /// <param name="b">Frames of the same shape.</param>
    /// <param name="window">The window's weights; <see cref="SsimWindow.Box"/> is the reference's.</param>
    /// <exception cref="ArgumentException">The shapes differ or are not 4-D.</exception>
    public static double[] PerFrame(Tensor a, Tensor b, SsimWindow window = SsimWindow.Box)
    {
        UnitFrames.RequireSameFrames(a, b);
        using var scope = NewDisposeScope();
        var x = a.to(ScalarType.Float64);
        var y = b.to(ScalarType.Float64);
        long channels = x.shape[1];
        var weights = Weights(window, x.device).expand(channels, 1, WindowSize, WindowSize);
        Tensor Local(Tensor image) => nn.functional.conv2d(image, weights, padding: [WindowSize / 2, WindowSize / 2], groups: channels);

        var muX = Local(x);
        var muY = Local(y);
        var varianceX = Local(x * x) - muX * muX;
        var varianceY = Local(y * y) - muY * muY;
        var covariance = Local(x * y) - muX * muY;
        var map = (2 * muX * muY + C1) * (2 * covariance + C2) / ((muX * muX + muY * muY + C1) * (varianceX + varianceY + C2));
        return map.mean([1, 2, 3]).data<double>().ToArray();
    }

    /// <summary>The window's weights [1, 1, 11, 11], summing to 1.</summary>
    internal static Tensor Weights(SsimWindow window, Device device)
    {
        if (window == SsimWindow.Box) return full([1, 1, WindowSize, WindowSize], 1.0 / (WindowSize * WindowSize), ScalarType.Float64, device);
        var offsets = arange(WindowSize, ScalarType.Float64, device) - WindowSize / 2;
        var profile = (-offsets.square() / (2 * GaussianSigma * GaussianSigma)).exp();
        profile /= profile.sum();
        return profile.outer(profile).reshape(1, 1, WindowSize, WindowSize);
    }
}
