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
/// <para>
/// <see cref="Open"/> validates the whole header before anything is allocated for the data, so a
/// corrupt or hostile file ends in a <see cref="SafeTensorsFormatException"/> naming the file (and the
/// tensor, where one is at fault), never another exception or an allocation larger than the file:
/// the header length lies in 1..100 MiB and inside the file; the header is well-formed UTF-8 and a
/// JSON object (nesting at most 64 deep); no tensor name and no <c>__metadata__</c> key appears
/// twice; each entry has a known dtype, a shape of non-negative integers and two non-negative
/// integer <c>data_offsets</c> (no fractions, exponents or strings); its byte count, computed with
/// overflow checks, equals the length of its range, which lies inside the data section; and the
/// non-empty ranges tile the data section exactly, as the reference implementation requires (see
/// <see cref="SafeTensorsLayout"/>): no overlaps, no holes, no trailing bytes.
/// </para>
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
    /// <exception cref="SafeTensorsFormatException">The file is truncated, its header is malformed, or its data ranges overlap, leave holes or overflow (see the remarks on <see cref="SafeTensorsFile"/>).</exception>
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
        // System.Text.Json only checks UTF-8 when a string is decoded, and then throws
        // InvalidOperationException; checking the whole header first turns that into a format error.
        // A header length that ends inside a multi-byte character lands here too.
        int invalidAt = SafeTensorsHeaderText.FirstInvalidUtf8(header);
        if (invalidAt >= 0)
            throw new SafeTensorsFormatException($"{path} has a header that is not valid UTF-8 (byte {invalidAt} of {header.Length}; a wrong header length can cut a character in two).");
        JsonDocument document;
        try
        {
            // Writers pad the header with trailing spaces for alignment; JSON ignores them. The parser's
            // default depth limit (64) bounds deeply nested input; exceeding it is a JsonException.
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
            bool sawMetadata = false;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    // JSON allows duplicate keys; which one wins differs between readers, so neither does.
                    if (sawMetadata) throw new SafeTensorsFormatException($"{path}: the header holds __metadata__ twice.");
                    sawMetadata = true;
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw new SafeTensorsFormatException($"{path}: __metadata__ must be an object of strings.");
                    foreach (var item in property.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String)
                            throw new SafeTensorsFormatException($"{path}: __metadata__ value '{item.Name}' is not a string.");
                        if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                            throw new SafeTensorsFormatException($"{path}: __metadata__ key '{item.Name}' appears twice.");
                    }
                    continue;
                }
                if (entries.ContainsKey(property.Name))
                    throw new SafeTensorsFormatException($"{path}: tensor '{property.Name}' appears twice in the header.");
                entries.Add(property.Name, ParseEntry(path, property.Name, property.Value, dataLength));
            }
            SafeTensorsLayout.Validate(path, entries.Values, dataLength);
            return (entries, metadata);
        }
    }

    static SafeTensorInfo ParseEntry(string path, string name, JsonElement element, long dataLength)
    {
        string Where() => $"{path}, tensor '{name}'";
        if (element.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException($"{Where()}: header entry is not an object.");
        JsonElement? dtypeElement = null, shapeElement = null, offsetsElement = null;
        foreach (var field in element.EnumerateObject())
        {
            // Unknown fields are ignored, as the reference reader does; known ones may appear only once.
            ref JsonElement? slot = ref dtypeElement;
            if (field.Name == "dtype") slot = ref dtypeElement;
            else if (field.Name == "shape") slot = ref shapeElement;
            else if (field.Name == "data_offsets") slot = ref offsetsElement;
            else continue;
            if (slot is not null) throw new SafeTensorsFormatException($"{Where()}: '{field.Name}' appears twice.");
            slot = field.Value;
        }
        if (dtypeElement is not { ValueKind: JsonValueKind.String } dtypeValue)
            throw new SafeTensorsFormatException($"{Where()}: missing string 'dtype'.");
        string dtype = dtypeValue.GetString()!;
        if (!SafeTensorsDType.TryParse(dtype, out var type, out int elementSize))
            throw new SafeTensorsFormatException($"{Where()}: unknown or unsupported dtype '{dtype}' (supported: {SafeTensorsDType.SupportedNames}).");
        if (shapeElement is not { ValueKind: JsonValueKind.Array } shapeValue)
            throw new SafeTensorsFormatException($"{Where()}: missing array 'shape'.");
        var shape = new long[shapeValue.GetArrayLength()];
        int i = 0;
        foreach (var dimension in shapeValue.EnumerateArray())
        {
            if (!TryGetNonNegativeInteger(dimension, out long size))
                throw new SafeTensorsFormatException($"{Where()}: shape entry {i} ({dimension.GetRawText()}) is not a non-negative integer.");
            shape[i++] = size;
        }
        if (offsetsElement is not { ValueKind: JsonValueKind.Array } offsets || offsets.GetArrayLength() != 2
            || !TryGetNonNegativeInteger(offsets[0], out long begin) || !TryGetNonNegativeInteger(offsets[1], out long end))
            throw new SafeTensorsFormatException($"{Where()}: 'data_offsets' must be an array of two non-negative integers.");
        if (end < begin)
            throw new SafeTensorsFormatException($"{Where()}: data_offsets [{begin}, {end}] are not an ordered range.");
        if (end > dataLength)
            throw new SafeTensorsFormatException($"{Where()}: data_offsets [{begin}, {end}] lie outside the {dataLength} data bytes (file truncated?).");
        // Checked arithmetic: a corrupt shape must not wrap around to a small, plausible byte count.
        if (!SafeTensorInfo.TryByteCount(shape, elementSize, out long expected))
            throw new SafeTensorsFormatException($"{Where()}: {dtype} [{string.Join(", ", shape)}] holds more bytes than a 64-bit count can express.");
        if (end - begin != expected)
            throw new SafeTensorsFormatException($"{Where()}: {end - begin} data bytes do not match {dtype} [{string.Join(", ", shape)}] ({expected} bytes).");
        return new SafeTensorInfo(name, dtype, type, shape, begin, end);
    }

    // Only JSON integers: 1.0, 1e3, strings, booleans and null are rejected, as are values beyond Int64.
    static bool TryGetNonNegativeInteger(JsonElement element, out long value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value) && value >= 0;
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
