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
    /// <exception cref="OverflowException">The shape's product exceeds <see cref="long.MaxValue"/> (never for an entry read by <see cref="SafeTensorsFile"/>, which rejects such shapes).</exception>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));

    /// <summary>Bytes of the tensor's data.</summary>
    public long ByteCount => End - Begin;

    /// <summary>
    /// The byte count of a tensor of this shape and element size, or false when it overflows 64 bits
    /// (a corrupt header must not wrap around to a small, plausible count).
    /// </summary>
    public static bool TryByteCount(IReadOnlyList<long> shape, int elementSize, out long bytes)
    {
        bytes = 0;
        long count = 1;
        // A zero dimension makes the product zero whatever the others are, so it is found before multiplying.
        if (shape.Contains(0)) return true;
        foreach (long size in shape)
        {
            if (size < 0) return false;
            if (size != 0 && count > long.MaxValue / size) return false;
            count *= size;
        }
        if (count > long.MaxValue / elementSize) return false;
        bytes = count * elementSize;
        return true;
    }

    /// <summary>The shape as text, for messages.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
