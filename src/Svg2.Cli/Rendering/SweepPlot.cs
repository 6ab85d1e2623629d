using System.Globalization;
using ScottPlot;

namespace Svg2.Cli.Rendering;

/// <summary>Line plots of a quality figure against density, one line per method.</summary>
internal static class SweepPlot
{
    const int WidthPixels = 900;
    const int HeightPixels = 560;

    /// <summary>
    /// Saves the plot as PNG. With <paramref name="logarithmic"/>, the values are drawn on a log10 axis (errors of
    /// the methods compared span several decades); values of 0 or less are left out there.
    /// </summary>
    /// <returns>Whether the plot was drawn (see <see cref="PlotFonts.Ensure"/>).</returns>
    public static bool Save(string path, string title, string yLabel, IEnumerable<(string Method, (double Density, double Value)[] Points)> series,
        bool logarithmic = false)
    {
        if (!PlotFonts.Ensure()) return false;
        var plot = new Plot();
        foreach (var (method, points) in series)
        {
            var ordered = points.Where(p => !logarithmic || p.Value > 0).OrderBy(p => p.Density).ToArray();
            var line = plot.Add.Scatter(ordered.Select(p => 100 * p.Density).ToArray(),
                ordered.Select(p => logarithmic ? Math.Log10(p.Value) : p.Value).ToArray());
            line.LegendText = method;
            line.MarkerSize = 7;
        }
        if (logarithmic)
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = exponent => Math.Pow(10, exponent).ToString("G3", CultureInfo.InvariantCulture),
            };
        plot.Title(title);
        plot.XLabel("density (% of the score matrix computed)");
        plot.YLabel(logarithmic ? yLabel + " (log scale)" : yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, WidthPixels, HeightPixels);
        return true;
    }
}
