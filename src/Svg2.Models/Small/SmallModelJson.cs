using System.Text.Json.Serialization;

namespace Svg2.Models.Small;

/// <summary>
/// Source-generated JSON for the metadata of small-model files, so that reading and writing them works in
/// trimmed and ahead-of-time compiled applications, where reflection-based serialisation is off.
/// </summary>
[JsonSourceGenerationOptions(RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(SmallVideoConfig))]
[JsonSerializable(typeof(ChannelNormalisation))]
[JsonSerializable(typeof(SmallVideoSampling))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class SmallModelJson : JsonSerializerContext;
