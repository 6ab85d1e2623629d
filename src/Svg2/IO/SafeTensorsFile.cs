using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.IO;

/// <summary>
/// Read access to one safetensors file: an 8-byte little-endian header length, a UTF-8 JSON header
/// mapping each tensor name to its dtype, shape and data offsets (relative to the end of the header),
/// an optional <c>__metadata__</c> string map, then the raw little-endian tensor bytes.
/// </summary>
/// <remarks>
/// Written by hand on <see cref="System.Text.Json"/> because no .NET package for the format exists.
/// The file is memory-mapped and only the header is parsed on open; each tensor is copied out on
/// request, so a multi-gigabyte shard never sits in managed memory and is never held twice.
/// Instances are not thread-safe.
/// </remarks>
public sealed class SafeTensorsFile : IDisposable
{
    // The format's own bound; it keeps a corrupt length from allocating gigabytes.
    const long MaxHeaderBytes = 100L * 1024 * 1024;
    const int CopyChunkBytes = 256 * 1024 * 1024;

    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly Dictionary<string, SafeTensorInfo> _entries;
    readonly long _dataStart;
    bool _disposed;

    SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, Dictionary<string, SafeTensorInfo> entries,
        IReadOnlyDictionary<string, string> metadata, long dataStart)
    {
        Path = path; _map = map; _view = view; _entries = entries; Metadata = metadata; _dataStart = dataStart;
    }

    /// <summary>The file this instance reads.</summary>
    public string Path { get; }

    /// <summary>The header's <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyCollection<string> Names => _entries.Keys;

    /// <summary>Whether the file holds a tensor of this name.</summary>
    public bool Contains(string name) => _entries.ContainsKey(name);

    /// <summary>The header entry of a tensor.</summary>
    /// <exception cref="SafeTensorsFormatException">No tensor of that name.</exception>
    public SafeTensorInfo Info(string name) =>
        _entries.TryGetValue(name, out var info) ? info
            : throw new SafeTensorsFormatException($"Tensor '{name}' is not in {Path} ({_entries.Count} tensors).");

    /// <summary>Opens a file and validates its header against the file's length.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="SafeTensorsFormatException">The file is truncated or its header is malformed.</exception>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Safetensors file not found: {path}", path);
        long length = new FileInfo(path).Length;
        if (length < 8) throw new SafeTensorsFormatException($"{path} is truncated: {length} bytes, fewer than the 8-byte header length.");
        if (length == 8) throw new SafeTensorsFormatException($"{path} is truncated: it holds a header length but no header.");

        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            long headerLength = view.ReadInt64(0);
            if (headerLength <= 0 || headerLength > MaxHeaderBytes)
                throw new SafeTensorsFormatException($"{path} has an invalid header length {headerLength} (must lie in 1..{MaxHeaderBytes}).");
            if (8 + headerLength > length)
                throw new SafeTensorsFormatException($"{path} is truncated: the header claims {headerLength} bytes but only {length - 8} follow the length.");
            var header = new byte[headerLength];
            view.ReadArray(8, header, 0, header.Length);
            long dataStart = 8 + headerLength;
            var (entries, metadata) = ParseHeader(path, header, length - dataStart);
            return new SafeTensorsFile(path, map, view, entries, metadata, dataStart);
        }
        catch
        {
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>Copies one tensor into a new CPU tensor of its stored dtype.</summary>
    /// <exception cref="SafeTensorsFormatException">No tensor of that name.</exception>
    public Tensor Read(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var info = Info(name);
        var tensor = empty(info.Shape, info.Type, CPU);
        try
        {
            CopyInto(info, tensor);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>Reads every tensor (for small files and tests).</summary>
    public Dictionary<string, Tensor> ReadAll() => _entries.Keys.ToDictionary(n => n, Read);

    unsafe void CopyInto(SafeTensorInfo info, Tensor destination)
    {
        long bytes = info.End - info.Begin;
        if (bytes == 0) return;
        byte* basePointer = null;
        var handle = _view.SafeMemoryMappedViewHandle;
        handle.AcquirePointer(ref basePointer);
        try
        {
            byte* source = basePointer + _view.PointerOffset + _dataStart + info.Begin;
            int elementSize = SafeTensorsDType.ElementSize(info.Type);
            using var flat = destination.view(-1);
            long elementsPerChunk = CopyChunkBytes / elementSize;
            for (long first = 0; first < info.ElementCount; first += elementsPerChunk)
            {
                long count = Math.Min(elementsPerChunk, info.ElementCount - first);
                using var chunk = flat.narrow(0, first, count);
                chunk.bytes = new Span<byte>(source + first * elementSize, checked((int)(count * elementSize)));
            }
        }
        finally
        {
            handle.ReleasePointer();
        }
    }

    static (Dictionary<string, SafeTensorInfo>, IReadOnlyDictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        JsonDocument document;
        try
        {
            // Writers pad the header with trailing spaces for alignment; JSON ignores them.
            document = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException($"{path} has a header that is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsFormatException($"{path} has a header that is not a JSON object.");
            var entries = new Dictionary<string, SafeTensorInfo>();
            var metadata = new Dictionary<string, string>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw new SafeTensorsFormatException($"{path}: __metadata__ must be an object of strings.");
                    foreach (var item in property.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String)
                            throw new SafeTensorsFormatException($"{path}: __metadata__ value '{item.Name}' is not a string.");
                        metadata[item.Name] = item.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(property.Name, ParseEntry(path, property.Name, property.Value, dataLength));
            }
            return (entries, metadata);
        }
    }

    static SafeTensorInfo ParseEntry(string path, string name, JsonElement element, long dataLength)
    {
        string Where() => $"{path}, tensor '{name}'";
        if (element.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException($"{Where()}: header entry is not an object.");
        if (!element.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new SafeTensorsFormatException($"{Where()}: missing string 'dtype'.");
        string dtype = dtypeElement.GetString()!;
        if (!SafeTensorsDType.TryParse(dtype, out var type, out int elementSize))
            throw new SafeTensorsFormatException($"{Where()}: unknown or unsupported dtype '{dtype}' (supported: F64, F32, F16, BF16, I64, I32, I8, U8, BOOL).");
        if (!element.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new SafeTensorsFormatException($"{Where()}: missing array 'shape'.");
        var shape = new long[shapeElement.GetArrayLength()];
        int i = 0;
        foreach (var dimension in shapeElement.EnumerateArray())
        {
            if (dimension.ValueKind != JsonValueKind.Number || !dimension.TryGetInt64(out long size) || size < 0)
                throw new SafeTensorsFormatException($"{Where()}: shape entry {i} is not a non-negative integer.");
            shape[i++] = size;
        }
        if (!element.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2
            || !offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end))
            throw new SafeTensorsFormatException($"{Where()}: 'data_offsets' must be an array of two integers.");
        if (begin < 0 || end < begin)
            throw new SafeTensorsFormatException($"{Where()}: data_offsets [{begin}, {end}] are not an ordered non-negative range.");
        if (end > dataLength)
            throw new SafeTensorsFormatException($"{Where()}: data_offsets [{begin}, {end}] lie outside the {dataLength} data bytes (file truncated?).");
        var info = new SafeTensorInfo(name, dtype, type, shape, begin, end);
        long expected = info.ElementCount * elementSize;
        if (end - begin != expected)
            throw new SafeTensorsFormatException($"{Where()}: {end - begin} data bytes do not match {dtype} {info.ShapeText} ({expected} bytes).");
        return info;
    }

    /// <summary>Releases the file mapping; tensors already read stay valid.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.Dispose();
        _map.Dispose();
    }
}
