using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using Svg2.Models.Pipelines;

namespace Svg2.Cli.Rendering;

/// <summary>What <c>svg2 generate</c> ran and measured, for the console and for <c>--report</c>.</summary>
internal sealed record GenerationRun(
    string Model,
    string Method,
    string? MethodNote,
    string Prompt,
    string NegativePrompt,
    int Width,
    int Height,
    int Frames,
    int Steps,
    double Guidance,
    double Shift,
    long Seed,
    string Solver,
    string Device,
    string DType,
    double? TargetDensity,
    int DenseWarmupSteps,
    int DenseWarmupLayers,
    IReadOnlyList<string> Outputs,
    GenerationReport Report,
    string Date,
    string? Image = null);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(GenerationRun))]
internal sealed partial class GenerationJsonContext : JsonSerializerContext;

/// <summary>The timing table of a generation, and its JSON form.</summary>
internal static class GenerationView
{
    public static void WriteJson(string path, GenerationRun run) =>
        File.WriteAllText(path, JsonSerializer.Serialize(run, GenerationJsonContext.Default.GenerationRun));

    /// <summary>Stages with their time and peak memory, then the denoising steps summarised by kind (dense warm-up, sparse), each
    /// with its peak memory.</summary>
    public static void Render(GenerationRun run)
    {
        var report = run.Report;
        var stages = new Table().Title($"{run.Model}, {run.Method}: {run.Width}x{run.Height}, {run.Frames} frames, {run.Steps} steps, {report.Tokens:N0} tokens")
            .AddColumns("stage", "time (s)", "share", "peak device memory (GiB)");
        foreach (var stage in report.Stages)
            stages.AddRow(stage.Name, Seconds(stage.Milliseconds), Share(stage.Milliseconds, report.TotalMs), Gib(stage.PeakDeviceBytes));
        stages.AddRow("[bold]total[/]", $"[bold]{Seconds(report.TotalMs)}[/]", "100%", "");
        AnsiConsole.Write(stages);

        var steps = new Table().Title("denoising steps").AddColumns("steps", "mode", "per step (ms)", "self-attention (ms)", "the rest (ms)", "attention density",
            "peak device memory (GiB)");
        foreach (var phase in report.Phases)
        {
            var list = report.Steps.Where(s => phase.Steps.Contains(s.Step)).ToList();
            string range = list.Count == 1 ? $"{list[0].Step}" : $"{list[0].Step}-{list[^1].Step}";
            var densities = list.Where(s => s.Density is not null).Select(s => s.Density!.Value).ToList();
            steps.AddRow(range, phase.Mode, Ms(list.Average(s => s.Milliseconds)), Ms(list.Average(s => s.SelfAttentionMs)), Ms(list.Average(s => s.OtherMs)),
                densities.Count == 0 ? "1 (dense)" : $"{densities.Average():P1} (min {densities.Min():P1}, max {densities.Max():P1})",
                Gib(phase.PeakDeviceBytes));
        }
        AnsiConsole.Write(steps);
        if (run.MethodNote is { } note) AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {note}");
        foreach (var output in run.Outputs) AnsiConsole.MarkupLineInterpolated($"wrote [bold]{output}[/]");
    }

    static string Seconds(double ms) => (ms / 1000).ToString("F2", CultureInfo.InvariantCulture);

    static string Ms(double ms) => ms.ToString("F1", CultureInfo.InvariantCulture);

    static string Share(double ms, double total) => total > 0 ? (ms / total).ToString("P0", CultureInfo.InvariantCulture) : "";

    static string Gib(long? bytes) => bytes is { } b ? (b / (double)(1L << 30)).ToString("F2", CultureInfo.InvariantCulture) : "n/a (CPU)";
}
