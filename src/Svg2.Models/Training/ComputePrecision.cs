using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>The dtype of the weights and activations that forwards and backwards run in; the optimiser always keeps float32 weights.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ComputePrecision>))]
public enum ComputePrecision
{
    /// <summary>float32 throughout (the CPU default; bit-reproducible there).</summary>
    Float32,

    /// <summary>A bf16 copy of the float32 weights for every forward and backward, as bf16 autocast computes (the GPU default).</summary>
    BFloat16,
}

/// <summary>Conversions of <see cref="ComputePrecision"/>.</summary>
public static class ComputePrecisionExtensions
{
    /// <summary>The TorchSharp dtype of the precision.</summary>
    public static ScalarType ToScalarType(this ComputePrecision precision) =>
        precision == ComputePrecision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
}
