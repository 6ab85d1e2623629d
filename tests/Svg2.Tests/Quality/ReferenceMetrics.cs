namespace Svg2.Tests.Quality;

/// <summary>PSNR and SSIM written out as plain float64 loops over arrays, independent of the tensor code under test.</summary>
static class ReferenceMetrics
{
    /// <summary>PSNR of frames given as bytes [H, W, 3], over all channels and pixels, data range 255.</summary>
    public static double Psnr(byte[] a, byte[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double difference = (a[i] - b[i]) / 255.0;
            sum += difference * difference;
        }
        return 10 * Math.Log10(1 / (sum / a.Length));
    }

    /// <summary>
    /// SSIM of one frame [C][H, W] in [0, 1]: an 11x11 window of the given weights per channel, zeros outside the
    /// image counted, C1 = 0.01^2, C2 = 0.03^2, the map averaged over channels and pixels.
    /// </summary>
    public static double Ssim(double[][,] x, double[][,] y, double[,] window)
    {
        const double c1 = 1e-4, c2 = 9e-4;
        int height = x[0].GetLength(0), width = x[0].GetLength(1), half = window.GetLength(0) / 2;
        double total = 0;
        for (int c = 0; c < x.Length; c++)
            for (int i = 0; i < height; i++)
                for (int j = 0; j < width; j++)
                {
                    double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
                    for (int di = -half; di <= half; di++)
                        for (int dj = -half; dj <= half; dj++)
                        {
                            int r = i + di, s = j + dj;
                            if (r < 0 || r >= height || s < 0 || s >= width) continue;
                            double w = window[di + half, dj + half], u = x[c][r, s], v = y[c][r, s];
                            mx += w * u; my += w * v; xx += w * u * u; yy += w * v * v; xy += w * u * v;
                        }
                    double vx = xx - mx * mx, vy = yy - my * my, cxy = xy - mx * my;
                    total += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
                }
        return total / (x.Length * height * width);
    }

    public static double[,] BoxWindow()
    {
        var window = new double[11, 11];
        for (int i = 0; i < 11; i++) for (int j = 0; j < 11; j++) window[i, j] = 1.0 / 121;
        return window;
    }

    public static double[,] GaussianWindow(double sigma)
    {
        var profile = Enumerable.Range(-5, 11).Select(d => Math.Exp(-d * d / (2 * sigma * sigma))).ToArray();
        double sum = profile.Sum();
        var window = new double[11, 11];
        for (int i = 0; i < 11; i++) for (int j = 0; j < 11; j++) window[i, j] = profile[i] * profile[j] / (sum * sum);
        return window;
    }
}
