using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace Svg2.IO;

/// <summary>
/// Writes tensors to a safetensors file (see <see cref="SafeTensorsFile"/> for the layout). Written by
/// hand on <see cref="System.Text.Json"/> because no .NET package for the format exists.
/// </summary>
public static class SafeTensorsWriter
{
    // The header is padded with spaces so the data section starts 8-byte aligned, as other writers do.
    const int Alignment = 8;

    /// <summary>
    /// Writes the tensors (any device, any layout; they are copied to contiguous CPU memory one at a
    /// time) in the order given, with an optional metadata map.
    /// </summary>
    /// <exception cref="ArgumentException">A name is empty or <c>__metadata__</c>, or a dtype is unsupported.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.ToList();
        var names = new HashSet<string>();
        foreach (var (name, _) in items)
        {
            if (string.IsNullOrEmpty(name) || name == "__metadata__")
                throw new ArgumentException($"Invalid safetensors tensor name '{name}'.");
            if (!names.Add(name)) throw new ArgumentException($"Tensor name '{name}' appears twice.");
        }

        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in items)
            {
                long bytes = tensor.numel() * SafeTensorsDType.ElementSize(tensor.dtype);
                json.WriteStartObject(name);
                json.WriteString("dtype", SafeTensorsDType.NameOf(tensor.dtype));
                json.WriteStartArray("shape");
                foreach (long size in tensor.shape) json.WriteNumberValue(size);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        int padding = (int)((Alignment - (8 + buffer.Length) % Alignment) % Alignment);
        for (int i = 0; i < padding; i++) buffer.WriteByte((byte)' ');

        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, buffer.Length);
        file.Write(length);
        buffer.Position = 0;
        buffer.CopyTo(file);
        foreach (var (_, tensor) in items)
        {
            using var cpu = tensor.detach().to(CPU).contiguous();
            using var flat = cpu.view(-1);
            long count = flat.numel();
            int elementSize = SafeTensorsDType.ElementSize(tensor.dtype);
            long perChunk = (256L << 20) / elementSize;
            for (long first = 0; first < count; first += perChunk)
            {
                using var chunk = flat.narrow(0, first, Math.Min(perChunk, count - first));
                file.Write(chunk.bytes);
            }
        }
    }
}
