using Spectre.Console;
using Svg2.Evaluation.Methods;

namespace Svg2.Cli.Rendering;

/// <summary>Tables of method measurements.</summary>
internal static class MeasurementTable
{
    /// <summary>
    /// One row per method: budget, density, the share of query clusters at the rule's fixed minimum
    /// ("at floor": where it is high, the floor, not the budget, set the density), recall, error and phase times.
    /// The caption says what the time columns measure and, for CPU runs, what CPU times do not show.
    /// </summary>
    public static Table Summary(string title, IEnumerable<MethodMeasurement> measurements, bool onCpu)
    {
        var table = new Table().Title(title).Border(TableBorder.Rounded).Caption(onCpu ? $"{ColumnNote}\n{CpuTimingNote}" : ColumnNote);
        foreach (var column in new[] { "method", "budget", "density", "at floor", "recall", "L2 err", "prep ms", "sel ms", "attn ms", "total ms" })
            table.AddColumn(new TableColumn(column).RightAligned());
        foreach (var m in measurements)
            table.AddRow(Markup.Escape(m.Method), Markup.Escape(m.ParameterName is null ? "-" : $"{m.ParameterName}={m.Parameter:0.###}"), Percent(m.MeanDensity),
                m.MeanFloorShare is { } floor ? Percent(floor) : "-", Percent(m.MeanRecall), m.MeanRelativeError.ToString("0.0000"), Ms(m.PrepareMilliseconds),
                Ms(m.PlanMilliseconds), Ms(m.AttendMilliseconds), Ms(m.TotalMilliseconds));
        return table;
    }

    /// <summary>Per-head figures of one measurement, with a label per head.</summary>
    public static Table PerHead(MethodMeasurement m, Func<int, string> label)
    {
        var table = new Table().Title($"{m.Method} per head").Border(TableBorder.Simple);
        foreach (var column in new[] { "head", "density", "at floor", "recall", "rel. L2 error" }) table.AddColumn(new TableColumn(column).RightAligned());
        for (int g = 0; g < m.Density.Length; g++)
            table.AddRow(label(g), Percent(m.Density[g]), m.FloorShare is { } floor ? Percent(floor[g]) : "-", Percent(m.Recall[g]), m.RelativeError[g].ToString("0.0000"));
        return table;
    }

    /// <summary>What the time columns measure.</summary>
    internal const string ColumnNote =
        "at floor: share of query clusters held at the selection's fixed minimum. Times: prep is the budget-independent " +
        "preparation (k-means, block means), sel the selection at the chosen budget, attn the attention (permutation included), total their sum.";

    /// <summary>Why CPU times are no measure of the sparse methods' speed, and where the fast path is.</summary>
    internal const string CpuTimingNote =
        "On the CPU, dense is libtorch's optimised attention, while the sparse methods run the portable reference path: TorchSharp " +
        "code written as a correctness oracle (SVG2 loops over clusters on the host), so sparse slower than dense here says nothing " +
        "about their speed. The fast path is CUDA: svg2 bench --device cuda (docs/cuda-performance.md). Density, recall and error " +
        "do not depend on the device.";

    public static string Percent(double fraction) => (100 * fraction).ToString("0.00") + "%";

    static string Ms(double milliseconds) => milliseconds.ToString(milliseconds < 10 ? "0.00" : "0");
}
