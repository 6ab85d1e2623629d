using System.Text.Json.Serialization;

namespace Svg2.Models.Training;

/// <summary>The learning rate after the linear warm-up.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LearningRateShape>))]
public enum LearningRateShape
{
    /// <summary>Half a cosine from the peak down to the floor at the last step.</summary>
    Cosine,

    /// <summary>The peak until the end.</summary>
    Constant,
}
