using System.Text.RegularExpressions;
using Spectre.Console;
using Svg2.Cli.Commands;
using Svg2.Evaluation.Benchmarks;

namespace Svg2.Tests.Cli;

/// <summary>The CUDA benchmark's report: narrow tables that carry every timed value, and "-" for what a GPU could not time.</summary>
public class CudaBenchmarkReportTests
{
    static DensityPoint Point(string label, IReadOnlyList<ErrorRoutedTiming> errorRouted, double fp8KMeansMs, double rowCompensatedMs,
        Fp8AttentionTiming? fp8 = null) =>
        new(label, 0.9, 0.1, 0.15, 2.17, 4.34, 1.50, 43.10, 198.85, 1e12, 128, 52.88, 0.149, 51.90, rowCompensatedMs, errorRouted, 5.07, fp8KMeansMs, 52.38, fp8);

    static (IReadOnlyList<Table> Tables, string Text) Render(params DensityPoint[] points) => Render(null, points);

    static (IReadOnlyList<Table> Tables, string Text) Render(Fp8AttentionTiming? fp8Dense, params DensityPoint[] points)
    {
        var report = new BenchmarkReport(BenchmarkShape.Find("wan-14b-720p"), "a GPU", 198.85, 160, 10, points, 1 << 20, "workload", [], fp8Dense);
        var tables = CudaBenchmarkReport.Tables(report);
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 400;
        foreach (var table in tables) console.Write(table);
        return (tables, Regex.Replace(writer.ToString(), @"\s+", " "));
    }

    [Fact]
    public void EveryTimedValueAppearsInATableOfAtMostFourteenColumns()
    {
        var routed = CudaBenchmark.ErrorRoutedProbes.Select((probe, i) => new ErrorRoutedTiming(probe.Name, 60 + i, 0.15)).ToList();
        var (tables, text) = Render(Point("fixed 15 %", routed, 6.96, 55.32));
        Assert.All(tables, table => Assert.InRange(table.Columns.Count, 2, 14));
        Assert.Contains("3.76x", text);                       // dense / operator
        Assert.Contains("55.32, +4.6%", text);                // per row, top-p
        Assert.Contains("63.00, +19.1% (15.0", text);         // the fourth probe: 63 ms over 52.88 ms, at 15% density
        Assert.Contains("6.96", text);
        Assert.Contains("6.51", text);                        // k-means back to back: 2.17 + 4.34
        Assert.Contains("5.07", text);                        // k-means side by side
        Assert.Contains("2.5 %", text);                       // 5.07 / 198.85
        Assert.Contains("3.80x", text);                       // dense / operator with FP8 k-means
        foreach (var probe in CudaBenchmark.ErrorRoutedProbes) Assert.Contains($"{probe.Name} probe", text);
    }

    [Fact]
    public void Fp8AttentionGetsATableOfItsOwnWithTheDenseFp8Figure()
    {
        var (tables, text) = Render(new Fp8AttentionTiming(2.8, 170.0, double.NaN, 0.0123), Point("fixed 15 %", [], 6.96, 55.32, new Fp8AttentionTiming(2.67, 28.75, 38.20, 0.0234)));
        Assert.Equal(4, tables.Count);
        Assert.Contains("28.75", text);
        Assert.Contains("1.50x", text);                       // bf16 kernel 43.10 ms / FP8 kernel 28.75 ms
        Assert.Contains("104 %", text);                       // 0.15 x 198.85 / 28.75
        Assert.Contains("5.21x", text);                       // 198.85 / 38.20
        Assert.Contains("1.17x kernel alone", text);          // 198.85 / 170
        Assert.Contains("2.34E-002", text);                   // the sparse FP8 output against the bf16 kernel's
        Assert.Contains("error vs SDPA 1.23E-002", text);     // dense FP8 against SDPA
        Assert.Equal(3, Render(Point("fixed 15 %", [], 6.96, 55.32)).Tables.Count);
    }

    [Fact]
    public void WhatAGpuCouldNotTimeShowsAsADash()
    {
        var (_, text) = Render(Point("top_p 0.9", [], double.NaN, double.NaN));
        Assert.DoesNotContain("NaN", text);
        Assert.Contains(" - ", text);
    }
}
