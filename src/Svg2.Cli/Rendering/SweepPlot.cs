using ScottPlot;

namespace Svg2.Cli.Rendering;

/// <summary>Line plots of a quality figure against density, one line per method.</summary>
internal static class SweepPlot
{
    const int WidthPixels = 900;
    const int HeightPixels = 560;

    public static void Save(string path, string title, string yLabel, IEnumerable<(string Method, (double Density, double Value)[] Points)> series)
    {
        var plot = new Plot();
        foreach (var (method, points) in series)
        {
            var ordered = points.OrderBy(p => p.Density).ToArray();
            var line = plot.Add.Scatter(ordered.Select(p => 100 * p.Density).ToArray(), ordered.Select(p => p.Value).ToArray());
            line.LegendText = method;
            line.MarkerSize = 7;
        }
        plot.Title(title);
        plot.XLabel("density (% of the score matrix computed)");
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, WidthPixels, HeightPixels);
    }
}
