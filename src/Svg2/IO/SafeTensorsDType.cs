using static TorchSharp.torch;

namespace Svg2.IO;

/// <summary>
/// The safetensors dtype names this project reads and writes, and their TorchSharp scalar types.
/// </summary>
public static class SafeTensorsDType
{
    static readonly (string Name, ScalarType Type, int Size)[] Known =
    [
        ("F64", ScalarType.Float64, 8),
        ("F32", ScalarType.Float32, 4),
        ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2),
        ("I64", ScalarType.Int64, 8),
        ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2),
        ("I8", ScalarType.Int8, 1),
        ("U8", ScalarType.Byte, 1),
        ("BOOL", ScalarType.Bool, 1),
    ];

    /// <summary>Every supported dtype name, for messages.</summary>
    public static string SupportedNames => string.Join(", ", Known.Select(k => k.Name));

    /// <summary>The scalar type and element size of a safetensors dtype name, or false when the name is unknown.</summary>
    public static bool TryParse(string name, out ScalarType type, out int elementSize)
    {
        foreach (var entry in Known)
        {
            if (entry.Name == name) { type = entry.Type; elementSize = entry.Size; return true; }
        }
        type = default; elementSize = 0;
        return false;
    }

    /// <summary>The safetensors dtype name of a TorchSharp scalar type.</summary>
    /// <exception cref="ArgumentException">The type has no safetensors name this project supports.</exception>
    public static string NameOf(ScalarType type)
    {
        foreach (var entry in Known)
            if (entry.Type == type) return entry.Name;
        throw new ArgumentException($"Scalar type {type} cannot be stored in safetensors by this project (supported: {SupportedNames}).");
    }

    /// <summary>Bytes per element of a TorchSharp scalar type that safetensors can store.</summary>
    public static int ElementSize(ScalarType type)
    {
        foreach (var entry in Known)
            if (entry.Type == type) return entry.Size;
        throw new ArgumentException($"Scalar type {type} cannot be stored in safetensors by this project.");
    }
}
