using static TorchSharp.torch;

namespace Svg2.Models.Quality;

/// <summary>
/// Structural similarity per frame, as the SVG2 reference computes it: frames in [0, 1] (data range 1), constants
/// C1 = 0.01^2 and C2 = 0.03^2, local means, variances and covariance over an 11x11 window applied to each channel
/// with stride 1 and zero padding 5 (the padded zeros count in the average), and the frame's value the mean of the
/// SSIM map over all channels and pixels. Computed in float64.
/// </summary>
/// <remarks>
/// Both windows are outer products of an 11-tap profile, so each local statistic is two 1-D passes over the
/// zero-padded frames, each a weighted sum of 11 shifted slices: the reference's zero padding and weights (for the
/// box, exactly its average pooling). A depthwise float64 conv2d computes the same but has no fast CPU kernel in
/// libtorch: on a 2-core CPU it took 16 s for one statistic of 20 frames of 240x320, where the passes take about
/// 1.3 s of CPU time for all five (average pooling is no faster than the passes).
/// </remarks>
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
        long n = x.shape[0];
        // The five local statistics in one pass: means of x, y, x^2, y^2 and xy.
        var local = Local(cat([x, y, x * x, y * y, x * y]), Profile(window)).split(n);
        var (muX, muY) = (local[0], local[1]);
        var varianceX = local[2] - muX * muX;
        var varianceY = local[3] - muY * muY;
        var covariance = local[4] - muX * muY;
        var map = (2 * muX * muY + C1) * (2 * covariance + C2) / ((muX * muX + muY * muY + C1) * (varianceX + varianceY + C2));
        return map.mean([1, 2, 3]).data<double>().ToArray();
    }

    /// <summary>The window's 1-D profile (summing to 1); the 2-D window is its outer product with itself.</summary>
    static double[] Profile(SsimWindow window)
    {
        if (window == SsimWindow.Box) return Enumerable.Repeat(1.0 / WindowSize, WindowSize).ToArray();
        var profile = Enumerable.Range(-(WindowSize / 2), WindowSize).Select(d => Math.Exp(-d * d / (2 * GaussianSigma * GaussianSigma))).ToArray();
        double sum = profile.Sum();
        return profile.Select(p => p / sum).ToArray();
    }

    /// <summary>The windowed average of each plane of [N, C, H, W], zeros outside the frame counted.</summary>
    static Tensor Local(Tensor planes, double[] profile)
    {
        int half = profile.Length / 2;
        long height = planes.shape[2], width = planes.shape[3];
        var padded = nn.functional.pad(planes, [half, half, half, half]);
        var rows = Pass(padded, 2, height, profile);
        return Pass(rows, 3, width, profile);
    }

    static Tensor Pass(Tensor padded, int dim, long length, double[] profile)
    {
        var sum = padded.narrow(dim, 0, length) * profile[0];
        for (int k = 1; k < profile.Length; k++) sum.add_(padded.narrow(dim, k, length), profile[k]);
        return sum;
    }
}
