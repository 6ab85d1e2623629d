using static TorchSharp.torch;

namespace Svg2.Models.Checkpoints;

/// <summary>What a tensor source knows of one tensor before reading it.</summary>
/// <param name="Name">The tensor's name in the source.</param>
/// <param name="Type">Its stored element type.</param>
/// <param name="Shape">Its shape; empty for a scalar.</param>
/// <param name="File">The file that holds it, for messages.</param>
public sealed record TensorEntry(string Name, ScalarType Type, long[] Shape, string File)
{
    /// <summary>The shape as text, for messages.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
