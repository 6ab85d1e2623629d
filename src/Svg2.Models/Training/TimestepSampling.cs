using System.Text.Json.Serialization;

namespace Svg2.Models.Training;

/// <summary>How training draws the noise level t of each example before the flow shift is applied.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TimestepSampling>))]
public enum TimestepSampling
{
    /// <summary>t = sigmoid(n), n standard normal (logit-normal(0, 1)): most examples at mid noise, few at the ends.</summary>
    LogitNormal,

    /// <summary>t uniform in (0, 1).</summary>
    Uniform,
}
