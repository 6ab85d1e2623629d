using static TorchSharp.torch;

namespace Svg2.Models.Small;

/// <summary>
/// Per-channel mean and standard deviation of pixel-unshuffled frames (pixel values in [-1, 1]), measured
/// on the training clips, so that the latents the transformer denoises have zero mean and unit variance
/// per channel, as the Wan VAE's latents are normalised with its measured statistics.
/// </summary>
/// <param name="Mean">One mean per latent channel.</param>
/// <param name="Std">One standard deviation per latent channel (at least <see cref="MinStd"/>).</param>
public sealed record ChannelNormalisation(double[] Mean, double[] Std)
{
    /// <summary>The smallest standard deviation kept: a flat channel is not blown up by its noise floor.</summary>
    public const double MinStd = 1e-3;

    /// <summary>Zero mean and unit deviation for <paramref name="channels"/> channels (no normalisation).</summary>
    public static ChannelNormalisation Identity(int channels) =>
        new(Enumerable.Repeat(0.0, channels).ToArray(), Enumerable.Repeat(1.0, channels).ToArray());

    /// <summary>Latent channels.</summary>
    public int Channels => Mean.Length;

    /// <summary>
    /// Measures the statistics of RGB clips [N, F, H, W, 3] uint8 after pixel-unshuffling by
    /// <paramref name="factor"/>, in float64, one clip at a time. Channel c x factor^2 + i x factor + j
    /// holds colour c of the pixels at row i and column j (mod factor), PyTorch's pixel_unshuffle order.
    /// </summary>
    /// <exception cref="ArgumentException">The clips are not uint8 [N, F, H, W, 3] with N at least 1 and H, W multiples of the factor.</exception>
    public static ChannelNormalisation Measure(Tensor clips, int factor)
    {
        if (clips.dtype != ScalarType.Byte || clips.dim() != 5 || clips.shape[4] != 3 || clips.shape[0] < 1)
            throw new ArgumentException($"Clips to measure must be uint8 [N >= 1, F, H, W, 3]; got {clips.dtype} [{string.Join(", ", clips.shape)}].");
        long frames = clips.shape[1], height = clips.shape[2], width = clips.shape[3];
        if (height % factor != 0 || width % factor != 0)
            throw new ArgumentException($"Frame size {width}x{height} is not a multiple of the spatial factor {factor}.");
        using var scope = NewDisposeScope();
        var sum = zeros(3, factor, factor, dtype: ScalarType.Float64);
        var squares = zeros(3, factor, factor, dtype: ScalarType.Float64);
        for (long clip = 0; clip < clips.shape[0]; clip++)
        {
            using var clipScope = NewDisposeScope();
            var values = clips[clip].to(ScalarType.Float64, CPU) / 127.5 - 1;
            // [F, H/f, i, W/f, j, c] -> sums over frames and blocks, ordered [c, i, j].
            var blocks = values.view(frames, height / factor, factor, width / factor, factor, 3);
            sum.add_(blocks.sum([0, 1, 3]).permute(2, 0, 1));
            squares.add_(blocks.square().sum([0, 1, 3]).permute(2, 0, 1));
        }
        double count = (double)clips.shape[0] * frames * (height / factor) * (width / factor);
        var mean = (sum / count).flatten();
        var variance = (squares / count).flatten() - mean.square();
        var std = variance.clamp_min(0).sqrt().clamp_min(MinStd);
        return new ChannelNormalisation(mean.data<double>().ToArray(), std.data<double>().ToArray());
    }

    /// <summary>The means as [1, C, 1, 1, 1] float32 on <paramref name="device"/>, to broadcast over [B, C, F, H, W].</summary>
    public Tensor MeanTensor(Device device) => Broadcastable(Mean, device);

    /// <summary>The deviations as [1, C, 1, 1, 1] float32 on <paramref name="device"/>.</summary>
    public Tensor StdTensor(Device device) => Broadcastable(Std, device);

    static Tensor Broadcastable(double[] values, Device device)
    {
        using var host = tensor(values.Select(v => (float)v).ToArray());
        return host.view(1, -1, 1, 1, 1).to(device);
    }
}
