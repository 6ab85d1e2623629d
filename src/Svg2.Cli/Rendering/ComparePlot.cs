using ScottPlot;
using Svg2.Models.Quality;

namespace Svg2.Cli.Rendering;

/// <summary>Per-frame PSNR (left axis) and SSIM (right axis) of one video against another.</summary>
internal static class ComparePlot
{
    const int WidthPixels = 900;
    const int HeightPixels = 500;

    /// <returns>Whether the plot was drawn (see <see cref="PlotFonts.Ensure"/>).</returns>
    public static bool Save(string path, string title, VideoComparison comparison)
    {
        if (!PlotFonts.Ensure()) return false;
        var plot = new Plot();
        var frames = Enumerable.Range(0, comparison.FrameCount).Select(i => (double)i).ToArray();
        // An identical frame's infinite PSNR is drawn at the cap the mean uses.
        var psnr = plot.Add.Scatter(frames, comparison.Psnr.Select(p => Math.Min(p, VideoComparison.PsnrCapDb)).ToArray());
        psnr.LegendText = "PSNR (dB)";
        var ssim = plot.Add.Scatter(frames, comparison.Ssim.ToArray());
        ssim.LegendText = "SSIM";
        ssim.Axes.YAxis = plot.Axes.Right;
        plot.Title(comparison.IdenticalFrames > 0 ? $"{title} ({comparison.IdenticalFrames} identical frames drawn at {VideoComparison.PsnrCapDb:0} dB)" : title);
        plot.XLabel("frame");
        plot.YLabel("PSNR (dB)");
        plot.Axes.Right.Label.Text = "SSIM";
        plot.ShowLegend(Edge.Bottom);
        plot.SavePng(path, WidthPixels, HeightPixels);
        return true;
    }
}
