using static TorchSharp.torch;

namespace Svg2.IO;

/// <summary>One entry of a safetensors header.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="DType">Its safetensors dtype name (F32, BF16, ...).</param>
/// <param name="Type">The TorchSharp scalar type of that dtype.</param>
/// <param name="Shape">Its shape; empty for a scalar.</param>
/// <param name="Begin">Start of its bytes, relative to the end of the header.</param>
/// <param name="End">End (exclusive) of its bytes, relative to the end of the header.</param>
public sealed record SafeTensorInfo(string Name, string DType, ScalarType Type, long[] Shape, long Begin, long End)
{
    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape as text, for messages.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
