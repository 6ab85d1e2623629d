using System.Text.Json;
using System.Text.Json.Serialization;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;

namespace Svg2.Cli.Rendering;

/// <summary>A machine-readable report of one or more method runs.</summary>
internal sealed record RunReport(
    string Command,
    string Input,
    long[] Shape,
    string DType,
    string Device,
    Svg2Options Configuration,
    IReadOnlyList<MethodMeasurement> Methods,
    string Date);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(RunReport))]
[JsonSerializable(typeof(CompareReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;

internal static class JsonReports
{
    public static void Write(string path, RunReport report) =>
        File.WriteAllText(path, JsonSerializer.Serialize(report, ReportJsonContext.Default.RunReport));

    public static void Write(string path, CompareReport report) =>
        File.WriteAllText(path, JsonSerializer.Serialize(report, ReportJsonContext.Default.CompareReport));
}
