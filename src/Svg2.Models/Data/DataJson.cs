using System.Text.Json.Serialization;

namespace Svg2.Models.Data;

/// <summary>
/// Source-generated JSON for dataset metadata: trimmed and ahead-of-time compiled applications (the published
/// svg2 command) have no reflection-based serialisation.
/// </summary>
[JsonSerializable(typeof(string[]))]
internal sealed partial class DataJson : JsonSerializerContext;
