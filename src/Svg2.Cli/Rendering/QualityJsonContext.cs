using System.Text.Json.Serialization;
using Svg2.Evaluation.Models;

namespace Svg2.Cli.Rendering;

/// <summary>The JSON form of <c>svg2 quality</c>'s points.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(QualityPoint[]))]
internal sealed partial class QualityJsonContext : JsonSerializerContext;
