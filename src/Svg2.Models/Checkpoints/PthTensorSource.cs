using System.Globalization;
using System.IO.Compression;
using Svg2.Models.Checkpoints.Pickle;
using Svg2.Models.Checkpoints.Pth;
using static TorchSharp.torch;

namespace Svg2.Models.Checkpoints;

/// <summary>
/// Tensors from a PyTorch file written by torch.save (PyTorch 1.6 and later: a zip archive holding
/// <c>NAME/data.pkl</c>, the pickled object, and <c>NAME/data/KEY</c>, one uncompressed entry per storage).
/// Opening runs the pickle in a restricted machine that knows only what state dicts need
/// (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and _rebuild_parameter, the typed storage
/// classes) and refuses any other global by name, so a hostile file cannot run code. No tensor data is
/// read until <see cref="Read"/>, which reads only the bytes of the requested view.
/// </summary>
/// <remarks>
/// <para>
/// Names: the keys of nested dicts joined with dots, as PyTorch names the parameters of nested modules
/// ("model.blocks.0.weight" for <c>{"model": {"blocks.0.weight": t}}</c>); integer keys are written in
/// decimal. Values that are not tensors or dicts (step counts, learning rates, lists) are skipped, as are
/// dicts under keys that are neither strings nor integers. <see cref="Open"/>'s <c>root</c> picks the
/// tensors under one key path and names them relative to it, so a checkpoint that keeps its state dict
/// under "model" or "state_dict" loads like a bare state dict.
/// </para>
/// <para>
/// Every size is checked before data is allocated: the pickle entry's length against the file and a
/// bound, each storage entry's length against the element count the pickle claims (compressed storage
/// entries are refused, since their true size is unknown until read), each view's extent against its
/// storage, and each tensor's byte count against the file's length. A corrupt, truncated or hostile file
/// ends in a <see cref="CheckpointException"/> naming the file. Files in the legacy (pre-1.6) format are
/// refused with a message saying how to re-save them. Instances are not thread-safe.
/// </para>
/// </remarks>
public sealed class PthTensorSource : ITensorSource
{
    // The pickle of a state dict holds a few hundred bytes per tensor.
    const long MaxPickleBytes = 256L * 1024 * 1024;
    const int ChunkBytes = 1 << 30;
    const int SkipBufferBytes = 1 << 16;
    const int MaxNesting = 64;

    readonly ZipArchive _archive;
    readonly Dictionary<string, PthTensor> _tensors;
    readonly List<string> _names;
    readonly Dictionary<string, ZipArchiveEntry> _storageEntries;

    PthTensorSource(string path, ZipArchive archive, Dictionary<string, PthTensor> tensors, List<string> names,
        Dictionary<string, ZipArchiveEntry> storageEntries)
    {
        Path = path; _archive = archive; _tensors = tensors; _names = names; _storageEntries = storageEntries;
    }

    /// <summary>The file this source reads.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens a torch.save file and describes its tensors without reading their data.
    /// </summary>
    /// <param name="path">The .pth (or .pt, .bin, .ckpt) file.</param>
    /// <param name="root">A dot-separated key path ("model", "state_dict") whose tensors are exposed, named relative to it; null for every tensor.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="CheckpointException">The file is not a zip-format torch.save file, is corrupt or truncated, refers to a global outside the allowlist, or holds no tensor under <paramref name="root"/>.</exception>
    public static PthTensorSource Open(string path, string? root = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"PyTorch file not found: {path}", path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        ZipArchive? archive = null;
        try
        {
            CheckSignature(path, stream);
            archive = OpenArchive(path, stream);
            var (prefix, pickle) = ReadPickle(path, archive, stream.Length);
            string where = $"{path} ({prefix}data.pkl)";
            var host = new TorchPickleHost(where);
            var value = PickleMachine.Run(pickle, host, where);
            var storageEntries = StorageEntries(path, archive, prefix, host.Storages.Values, stream.Length);
            var (tensors, names) = Collect(path, value, root, stream.Length);
            return new PthTensorSource(path, archive, tensors, names, storageEntries);
        }
        catch
        {
            if (archive is not null) archive.Dispose();
            else stream.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Names => _names;

    /// <inheritdoc/>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <inheritdoc/>
    public TensorEntry Describe(string name)
    {
        var tensor = TensorOf(name);
        return new TensorEntry(name, tensor.Storage.Type, (long[])tensor.Shape.Clone(), Path);
    }

    /// <summary>
    /// Reads one tensor into a new contiguous CPU tensor of its stored type, honouring the view's storage
    /// offset and strides; only the storage bytes from the view's first to its last element are read.
    /// </summary>
    /// <exception cref="CheckpointException">No tensor of that name, or its storage entry is unreadable.</exception>
    public Tensor Read(string name)
    {
        var tensor = TensorOf(name);
        if (tensor.ElementCount == 0) return empty(tensor.Shape, tensor.Storage.Type, CPU);
        var storage = tensor.Storage;
        long span = tensor.Span;
        var window = empty([span], storage.Type, CPU);
        try
        {
            try
            {
                using var data = _storageEntries[storage.Key].Open();
                Skip(data, tensor.Offset * storage.ElementSize);
                ReadInto(data, window, span * storage.ElementSize);
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                throw new CheckpointException($"{Path}: the data of tensor '{name}' (storage '{storage.Key}') cannot be read: {e.Message}", e);
            }
            if (tensor.IsContiguous) return window.view(tensor.Shape);
            using var view = window.as_strided(tensor.Shape, tensor.Stride, 0);
            return view.contiguous();
        }
        finally
        {
            window.Dispose();
        }
    }

    /// <summary>Closes the file; tensors already read stay valid.</summary>
    public void Dispose() => _archive.Dispose();

    PthTensor TensorOf(string name) =>
        _tensors.TryGetValue(name, out var tensor) ? tensor
            : throw new CheckpointException($"{Path} holds no tensor '{name}' ({_tensors.Count} tensors).");

    static void CheckSignature(string path, FileStream stream)
    {
        Span<byte> head = stackalloc byte[4];
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = 0;
        if (read == 4 && head[0] == (byte)'P' && head[1] == (byte)'K') return;
        // The legacy format starts with a pickled magic number (protocol 2: 0x80 0x02); older files are tar archives.
        if (read > 0 && head[0] == 0x80)
            throw new CheckpointException($"{path} is in PyTorch's legacy (pre-1.6) serialization format, which is not supported; "
                + "re-save it in the zip format: torch.save(torch.load(path), path) with PyTorch 1.6 or later.");
        throw new CheckpointException($"{path} is not a PyTorch zip archive (it does not start with a zip signature; {stream.Length} bytes).");
    }

    static ZipArchive OpenArchive(string path, FileStream stream)
    {
        try
        {
            var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
            _ = archive.Entries.Count;
            return archive;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new CheckpointException($"{path} is not a readable zip archive (truncated or corrupt?): {e.Message}", e);
        }
    }

    static (string Prefix, byte[] Pickle) ReadPickle(string path, ZipArchive archive, long fileLength)
    {
        var pickles = archive.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
            && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length).ToList();
        if (pickles.Count != 1)
            throw new CheckpointException($"{path} holds {pickles.Count} NAME/data.pkl entries; a torch.save archive holds exactly one.");
        var entry = pickles[0];
        string prefix = entry.FullName[..^"data.pkl".Length];
        CheckByteOrder(path, archive, prefix);
        if (entry.Length > Math.Min(MaxPickleBytes, fileLength) || entry.Length < 1)
            throw new CheckpointException($"{path}: {entry.FullName} claims {entry.Length} bytes (the file has {fileLength}; the limit is {MaxPickleBytes}).");
        var pickle = new byte[entry.Length];
        try
        {
            using var data = entry.Open();
            data.ReadExactly(pickle);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new CheckpointException($"{path}: {entry.FullName} cannot be read: {e.Message}", e);
        }
        return (prefix, pickle);
    }

    static void CheckByteOrder(string path, ZipArchive archive, string prefix)
    {
        var entry = archive.GetEntry(prefix + "byteorder");
        if (entry is null) return;
        if (entry.Length > 16) throw new CheckpointException($"{path}: {entry.FullName} is {entry.Length} bytes long; expected 'little' or 'big'.");
        string order;
        try
        {
            using var reader = new StreamReader(entry.Open());
            order = reader.ReadToEnd().Trim();
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new CheckpointException($"{path}: {entry.FullName} cannot be read: {e.Message}", e);
        }
        if (order != "little")
            throw new CheckpointException($"{path} stores its tensors in '{order}' byte order; only little-endian files are supported.");
    }

    static Dictionary<string, ZipArchiveEntry> StorageEntries(string path, ZipArchive archive, string prefix,
        IEnumerable<PthStorage> storages, long fileLength)
    {
        var entries = new Dictionary<string, ZipArchiveEntry>();
        foreach (var storage in storages)
        {
            string name = prefix + "data/" + storage.Key;
            var entry = archive.GetEntry(name)
                ?? throw new CheckpointException($"{path}: the pickle refers to storage '{storage.Key}', but the archive has no entry {name}.");
            if (entry.CompressedLength != entry.Length)
                throw new CheckpointException($"{path}: storage entry {name} is compressed ({entry.CompressedLength} of {entry.Length} bytes); torch.save stores tensor data uncompressed, re-save the file with torch.save.");
            if (entry.Length != storage.ByteCount || entry.Length > fileLength)
                throw new CheckpointException($"{path}: storage entry {name} holds {entry.Length} bytes, but the pickle describes {storage.ElementCount} elements of {storage.Type} ({storage.ByteCount} bytes) in a {fileLength}-byte file.");
            entries[storage.Key] = entry;
        }
        return entries;
    }

    static (Dictionary<string, PthTensor>, List<string>) Collect(string path, object? value, string? root, long fileLength)
    {
        if (value is not OrderedDictionary<object, object?> top)
            throw new CheckpointException($"{path} holds {(value is PthTensor ? "a single tensor" : "no dict")}; expected a dict of tensors (a state dict).");
        var tensors = new Dictionary<string, PthTensor>();
        var names = new List<string>();

        void Visit(OrderedDictionary<object, object?> dict, string prefix, int depth)
        {
            if (depth > MaxNesting)
                throw new CheckpointException($"{path}: dicts nest more than {MaxNesting} deep under '{prefix}' (a dict that contains itself?).");
            foreach (var (key, item) in dict)
            {
                string? keyText = key switch
                {
                    string text => text,
                    long number => number.ToString(CultureInfo.InvariantCulture),
                    _ => null,
                };
                if (keyText is null) continue;
                string name = prefix.Length == 0 ? keyText : prefix + "." + keyText;
                if (item is OrderedDictionary<object, object?> inner) Visit(inner, name, depth + 1);
                else if (item is PthTensor tensor)
                {
                    if (!tensors.TryAdd(name, tensor))
                        throw new CheckpointException($"{path}: two tensors are named '{name}' once nested keys are joined with dots.");
                    if (!SafeByteCount(tensor, out long bytes) || bytes > fileLength)
                        throw new CheckpointException($"{path}: tensor '{name}' ({tensor.Storage.Type} [{string.Join(", ", tensor.Shape)}]) would take more bytes than the {fileLength}-byte file holds.");
                    names.Add(name);
                }
            }
        }

        Visit(top, "", 0);
        if (root is null) return (tensors, names);

        string rootPrefix = root + ".";
        var selected = names.Where(n => n.StartsWith(rootPrefix, StringComparison.Ordinal)).ToList();
        if (selected.Count == 0)
            throw new CheckpointException($"{path} holds no tensor under '{root}' (its top-level keys: {string.Join(", ", top.Keys.Take(12).Select(k => $"'{k}'"))}).");
        var relative = selected.ToDictionary(n => n[rootPrefix.Length..], n => tensors[n]);
        return (relative, selected.Select(n => n[rootPrefix.Length..]).ToList());
    }

    static bool SafeByteCount(PthTensor tensor, out long bytes)
    {
        try
        {
            bytes = checked(tensor.ElementCount * tensor.Storage.ElementSize);
            return true;
        }
        catch (OverflowException)
        {
            bytes = 0;
            return false;
        }
    }

    static void Skip(Stream data, long bytes)
    {
        if (bytes == 0) return;
        var discard = new byte[(int)Math.Min(bytes, SkipBufferBytes)];
        while (bytes > 0)
        {
            int count = (int)Math.Min(bytes, discard.Length);
            data.ReadExactly(discard, 0, count);
            bytes -= count;
        }
    }

    // Straight from the archive into the tensor's memory, in chunks a Span can address.
    static void ReadInto(Stream data, Tensor destination, long bytes)
    {
        using var flat = destination.view(-1);
        long elementSize = destination.element_size();
        long elementsPerChunk = ChunkBytes / elementSize;
        long elements = bytes / elementSize;
        for (long first = 0; first < elements; first += elementsPerChunk)
        {
            using var chunk = flat.narrow(0, first, Math.Min(elementsPerChunk, elements - first));
            data.ReadExactly(chunk.bytes);
        }
    }
}
