using Svg2.Models.Video;
using static TorchSharp.torch;

namespace Svg2.Models.Quality;

/// <summary>
/// PSNR and SSIM of one video against another, frame by frame, and their summaries. A frame identical in both has
/// infinite PSNR; the mean caps each frame's PSNR at <see cref="PsnrCapDb"/> so one identical frame does not make
/// it infinite, and it is infinite only when every frame is identical.
/// </summary>
/// <param name="Psnr">Each frame's PSNR in dB (+infinity for identical frames).</param>
/// <param name="Ssim">Each frame's SSIM.</param>
/// <param name="Window">The SSIM window used.</param>
public sealed record VideoComparison(IReadOnlyList<double> Psnr, IReadOnlyList<double> Ssim, SsimWindow Window)
{
    /// <summary>The PSNR each frame counts with at most in <see cref="MeanPsnr"/>.</summary>
    public const double PsnrCapDb = 100;

    // Frames per metric call: bounds the float64 working set (a dozen maps of the chunk) at large frame sizes.
    const int ChunkFrames = 4;

    /// <summary>Number of frames compared.</summary>
    public int FrameCount => Psnr.Count;

    /// <summary>Frames identical in both videos (infinite PSNR).</summary>
    public int IdenticalFrames => Psnr.Count(double.IsPositiveInfinity);

    /// <summary>Mean of the per-frame PSNRs, each capped at <see cref="PsnrCapDb"/>; +infinity when every frame is identical.</summary>
    public double MeanPsnr => IdenticalFrames == FrameCount ? double.PositiveInfinity : Psnr.Average(p => Math.Min(p, PsnrCapDb));

    /// <summary>The lowest per-frame PSNR.</summary>
    public double MinPsnr => Psnr.Min();

    /// <summary>The highest per-frame PSNR (+infinity when a frame is identical).</summary>
    public double MaxPsnr => Psnr.Max();

    /// <summary>Mean of the per-frame SSIMs.</summary>
    public double MeanSsim => Ssim.Average();

    /// <summary>The lowest per-frame SSIM.</summary>
    public double MinSsim => Ssim.Min();

    /// <summary>The highest per-frame SSIM.</summary>
    public double MaxSsim => Ssim.Max();

    /// <summary>Compares two videos of RGB uint8 frames [F, H, W, 3] (as <see cref="VideoReader"/> returns them).</summary>
    /// <param name="a">The first video.</param>
    /// <param name="b">The second video.</param>
    /// <param name="window">The SSIM window; <see cref="SsimWindow.Box"/> is the SVG2 reference's.</param>
    /// <param name="nameA">How errors name the first video (a path, for example).</param>
    /// <param name="nameB">How errors name the second video.</param>
    /// <exception cref="ArgumentException">A video is not uint8 [F, H, W, 3], or the frame counts or sizes differ.</exception>
    public static VideoComparison Compute(Tensor a, Tensor b, SsimWindow window = SsimWindow.Box, string nameA = "the first video", string nameB = "the second video")
    {
        VideoFrames.Validate(a, nameA);
        VideoFrames.Validate(b, nameB);
        if (a.shape[0] != b.shape[0])
            throw new ArgumentException($"{nameA} has {a.shape[0]} frames but {nameB} has {b.shape[0]}; compared videos need the same frame count.");
        if (a.shape[1] != b.shape[1] || a.shape[2] != b.shape[2])
            throw new ArgumentException($"{nameA} is {a.shape[1]}x{a.shape[2]} but {nameB} is {b.shape[1]}x{b.shape[2]} (H x W); compared videos need the same frame size.");
        var psnr = new List<double>();
        var ssim = new List<double>();
        for (long first = 0; first < a.shape[0]; first += ChunkFrames)
        {
            using var scope = NewDisposeScope();
            long count = Math.Min(ChunkFrames, a.shape[0] - first);
            var x = UnitFrames.Slice(a, first, count);
            var y = UnitFrames.Slice(b, first, count);
            psnr.AddRange(Quality.Psnr.PerFrame(x, y));
            ssim.AddRange(Quality.Ssim.PerFrame(x, y, window));
        }
        return new VideoComparison(psnr, ssim, window);
    }
}
