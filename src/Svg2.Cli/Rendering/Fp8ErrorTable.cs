using Spectre.Console;
using Svg2.Evaluation.Statistics;

namespace Svg2.Cli.Rendering;

/// <summary>The table of <see cref="Fp8ErrorStudy"/>: FP8's error against bf16 and float32, per attention and FP8 variant.</summary>
internal static class Fp8ErrorTable
{
    public static Table Render(IReadOnlyList<Fp8ErrorStudy.Row> rows)
    {
        var table = new Table().Title("FP8 attention against bf16 and float32 (relative L2 error per head)").Border(TableBorder.Rounded)
            .Caption("fp8 and bf16 run on the inputs rounded to bf16, float32 on the inputs as given; mean and worst head. " +
                     "per-tile: Q tiles of 128 rows, K tiles of 64 rows; per-token: a scale per row (the default); per-token Q, per-head K: --fp8-keys head; " +
                     "K smoothed: each head's mean key subtracted first; Q smoothed: --fp8-queries smooth, each head's mean query subtracted, its logit part added back per key.");
        foreach (var column in new[] { "attention", "density", "precision", "vs bf16 mean", "vs bf16 max", "vs f32 mean", "vs f32 max" })
            table.AddColumn(new TableColumn(column).RightAligned());
        foreach (var row in rows)
            table.AddRow(row.Attention, row.Density.ToString("P1"), Markup.Escape(row.Precision),
                row.Settings is null ? "-" : row.MeanAgainstBFloat16.ToString("0.00000"), row.Settings is null ? "-" : row.MaxAgainstBFloat16.ToString("0.00000"),
                row.MeanAgainstFloat32.ToString("0.00000"), row.MaxAgainstFloat32.ToString("0.00000"));
        return table;
    }
}
