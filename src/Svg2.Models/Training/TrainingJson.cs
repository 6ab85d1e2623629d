using System.Text.Json.Serialization;

namespace Svg2.Models.Training;

/// <summary>Source-generated JSON for training checkpoints (trimmed and ahead-of-time compiled applications have no reflection-based serialisation).</summary>
[JsonSourceGenerationOptions(RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(TrainingCheckpointHeader))]
internal sealed partial class TrainingJson : JsonSerializerContext;
