using Svg2.Models.Quality;
using static TorchSharp.torch;

namespace Svg2.Tests.Quality;

public sealed class MetricTests
{
    static Tensor Frames(int seed, long[] shape)
    {
        using var generator = new Generator((ulong)seed);
        return rand(shape, ScalarType.Float64, generator: generator);
    }

    static double[][,] Channels(Tensor frame)
    {
        var values = frame.data<double>().ToArray();
        int channels = (int)frame.shape[0], height = (int)frame.shape[1], width = (int)frame.shape[2];
        return Enumerable.Range(0, channels).Select(c =>
        {
            var plane = new double[height, width];
            for (int i = 0; i < height; i++) for (int j = 0; j < width; j++) plane[i, j] = values[(c * height + i) * width + j];
            return plane;
        }).ToArray();
    }

    [Theory]
    [InlineData(SsimWindow.Box)]
    [InlineData(SsimWindow.Gaussian)]
    public void SsimMatchesAnIndependentFloat64Computation(SsimWindow window)
    {
        using var a = Frames(31, [2, 3, 13, 17]);
        // b: a blurred, shifted and noisy version of a, so structure, contrast and luminance all differ somewhat.
        using var noise = Frames(32, [2, 3, 13, 17]);
        using var b = (0.7 * a.roll(1, 3) + 0.2 * noise + 0.05).clamp(0, 1);
        var measured = Ssim.PerFrame(a, b, window);
        var weights = window == SsimWindow.Box ? ReferenceMetrics.BoxWindow() : ReferenceMetrics.GaussianWindow(Ssim.GaussianSigma);
        for (int f = 0; f < 2; f++)
        {
            double expected = ReferenceMetrics.Ssim(Channels(a[f]), Channels(b[f]), weights);
            Assert.InRange(expected, 0.05, 0.95);
            Assert.Equal(expected, measured[f], 1e-12);
        }
    }

    [Fact]
    public void IdenticalFramesHaveSsimOneAndInfinitePsnr()
    {
        using var a = Frames(33, [3, 3, 12, 12]);
        Assert.All(Ssim.PerFrame(a, a), s => Assert.Equal(1.0, s, 1e-15));
        Assert.All(Psnr.PerFrame(a, a), p => Assert.True(double.IsPositiveInfinity(p)));
    }

    [Fact]
    public void PsnrIsTenLogOfOneOverTheFramesMse()
    {
        using var a = Frames(34, [2, 3, 5, 7]);
        using var b = Frames(35, [2, 3, 5, 7]);
        var measured = Psnr.PerFrame(a, b);
        for (int f = 0; f < 2; f++)
        {
            var x = a[f].data<double>().ToArray();
            var y = b[f].data<double>().ToArray();
            double mse = x.Zip(y, (u, v) => (u - v) * (u - v)).Sum() / x.Length;
            Assert.Equal(10 * Math.Log10(1 / mse), measured[f], 1e-9);
        }
    }

    [Fact]
    public void MetricsRefuseFramesOfDifferentShapes()
    {
        using var a = zeros(1, 3, 4, 4, ScalarType.Float64);
        using var b = zeros(1, 3, 4, 5, ScalarType.Float64);
        Assert.Contains("[1, 3, 4, 5]", Assert.Throws<ArgumentException>(() => Ssim.PerFrame(a, b)).Message);
    }
}
