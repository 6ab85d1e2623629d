using Svg2.Models.Quality;

namespace Svg2.Cli.Rendering;

/// <summary>
/// A machine-readable <c>svg2 compare</c> result. Infinite PSNRs (identical frames) are written as the string
/// "Infinity"; the mean caps each frame at <see cref="PsnrCapDb"/>.
/// </summary>
internal sealed record CompareReport(
    string Command,
    string A,
    string B,
    int Frames,
    long Height,
    long Width,
    SsimWindow SsimWindow,
    double PsnrCapDb,
    int IdenticalFrames,
    MetricSummary Psnr,
    MetricSummary Ssim,
    IReadOnlyList<FrameMetrics> PerFrame,
    string Lpips,
    string Date)
{
    public static CompareReport From(string a, string b, long height, long width, VideoComparison comparison, string lpips) => new(
        "compare", a, b, comparison.FrameCount, height, width, comparison.Window, VideoComparison.PsnrCapDb, comparison.IdenticalFrames,
        new MetricSummary(comparison.MeanPsnr, comparison.MinPsnr, comparison.MaxPsnr),
        new MetricSummary(comparison.MeanSsim, comparison.MinSsim, comparison.MaxSsim),
        comparison.Psnr.Select((p, i) => new FrameMetrics(i, p, comparison.Ssim[i])).ToList(),
        lpips, DateTime.UtcNow.ToString("O"));
}

/// <summary>Mean, lowest and highest of a per-frame figure.</summary>
internal sealed record MetricSummary(double Mean, double Min, double Max);

/// <summary>One frame's figures.</summary>
internal sealed record FrameMetrics(int Frame, double Psnr, double Ssim);
