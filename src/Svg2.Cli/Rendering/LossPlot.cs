using ScottPlot;
using Svg2.Models.Training;

namespace Svg2.Cli.Rendering;

/// <summary>The loss curves of a training run: the per-step training loss, its running mean, and the held-out loss of the weights and of their moving average.</summary>
internal static class LossPlot
{
    const int WidthPixels = 1000;
    const int HeightPixels = 600;
    const int Window = 50;

    /// <summary>Draws the curves of the run folder's logs (see <see cref="TrainingLog"/>) to a PNG file.</summary>
    /// <returns>Whether the plot was drawn (see <see cref="PlotFonts.Ensure"/>).</returns>
    public static bool Save(string runFolder, string path, string title)
    {
        var steps = TrainingLog.ReadSteps(Path.Combine(runFolder, TrainingLog.StepFileName));
        var heldOut = TrainingLog.ReadHeldOut(Path.Combine(runFolder, TrainingLog.HeldOutFileName));
        if (!PlotFonts.Ensure()) return false;
        var plot = new Plot();
        if (steps.Count > 0)
        {
            var raw = plot.Add.Scatter(steps.Select(s => (double)s.Step).ToArray(), steps.Select(s => s.Loss).ToArray());
            raw.LegendText = "training loss (per step)";
            raw.MarkerSize = 0;
            raw.LineWidth = 1;
            raw.Color = Colors.Gray.WithAlpha(0.5);
            var smooth = plot.Add.Scatter(steps.Select(s => (double)s.Step).ToArray(), RunningMean(steps.Select(s => s.Loss).ToArray()));
            smooth.LegendText = $"training loss (mean of {Window} steps)";
            smooth.MarkerSize = 0;
            smooth.LineWidth = 2;
        }
        foreach (var (weights, label) in new[] { ("raw", "held-out loss, weights"), ("ema", "held-out loss, moving average") })
        {
            var rows = heldOut.Where(r => r.Weights == weights && double.IsFinite(r.Mean)).ToArray();
            if (rows.Length == 0) continue;
            var line = plot.Add.Scatter(rows.Select(r => (double)r.Step).ToArray(), rows.Select(r => r.Mean).ToArray());
            line.LegendText = label;
            line.MarkerSize = 6;
        }
        plot.Title(title);
        plot.XLabel("optimiser step");
        plot.YLabel("flow-matching loss (MSE)");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, WidthPixels, HeightPixels);
        return true;
    }

    static double[] RunningMean(double[] values)
    {
        var result = new double[values.Length];
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            sum += values[i];
            if (i >= Window) sum -= values[i - Window];
            result[i] = sum / Math.Min(i + 1, Window);
        }
        return result;
    }
}
