using System.Text.Json;
using static TorchSharp.torch;

namespace Svg2.Tests.Workloads;

/// <summary>
/// Just enough of the safetensors format (8-byte little-endian header length, JSON header, raw
/// little-endian data) to load float32 tensors of the real attention data in tests.
/// </summary>
internal static class SafeTensorsTestReader
{
    public static Tensor ReadFloat32(string path, string name)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        long headerLength = reader.ReadInt64();
        using var header = JsonDocument.Parse(reader.ReadBytes(checked((int)headerLength)));
        var entry = header.RootElement.GetProperty(name);
        if (entry.GetProperty("dtype").GetString() != "F32")
            throw new InvalidDataException($"Tensor '{name}' in {path} is not F32.");
        var shape = entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        stream.Position = 8 + headerLength + offsets[0];
        var bytes = reader.ReadBytes(checked((int)(offsets[1] - offsets[0])));
        var values = new float[bytes.Length / sizeof(float)];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return tensor(values).reshape(shape);
    }
}
