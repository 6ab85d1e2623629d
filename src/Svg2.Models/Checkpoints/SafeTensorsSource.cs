using System.Text.Json;
using Svg2.IO;
using static TorchSharp.torch;

namespace Svg2.Models.Checkpoints;

/// <summary>
/// Tensors from one safetensors file, or from the shards that a "*.safetensors.index.json" lists in its
/// "weight_map" (tensor name to shard file). Files are opened on first use and kept open until disposal.
/// A malformed file is reported as a <see cref="CheckpointException"/> (its cause the
/// <see cref="SafeTensorsFormatException"/>).
/// </summary>
public sealed class SafeTensorsSource : ITensorSource
{
    readonly Dictionary<string, string> _fileOf;
    readonly Dictionary<string, SafeTensorsFile> _open = new();

    SafeTensorsSource(Dictionary<string, string> fileOf) => _fileOf = fileOf;

    /// <summary>
    /// Opens a safetensors file, an index JSON file, or a folder holding <paramref name="singleFileName"/>
    /// or its index (<paramref name="singleFileName"/> + ".index.json").
    /// </summary>
    /// <exception cref="CheckpointException">The folder holds neither, the index is broken, or the file is malformed.</exception>
    /// <exception cref="FileNotFoundException">The path does not exist.</exception>
    public static SafeTensorsSource Open(string path, string singleFileName = "model.safetensors")
    {
        if (Directory.Exists(path))
        {
            var index = Path.Combine(path, singleFileName + ".index.json");
            if (File.Exists(index)) return new SafeTensorsSource(FromIndex(index));
            var single = Path.Combine(path, singleFileName);
            if (File.Exists(single)) return new SafeTensorsSource(FromFile(single));
            throw new CheckpointException($"Folder {path} holds neither {singleFileName}.index.json nor {singleFileName}.");
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint not found: {path}", path);
        return new SafeTensorsSource(path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? FromIndex(path) : FromFile(path));
    }

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Names => _fileOf.Keys;

    /// <inheritdoc/>
    public bool Contains(string name) => _fileOf.ContainsKey(name);

    /// <inheritdoc/>
    public TensorEntry Describe(string name)
    {
        var file = FileOf(name);
        var info = file.Info(name);
        return new TensorEntry(name, info.Type, info.Shape, file.Path);
    }

    /// <inheritdoc/>
    public Tensor Read(string name)
    {
        var file = FileOf(name);
        return Reported(() => file.Read(name));
    }

    SafeTensorsFile FileOf(string name)
    {
        if (!_fileOf.TryGetValue(name, out var path)) throw new CheckpointException($"The checkpoint holds no tensor '{name}'.");
        if (!_open.TryGetValue(path, out var file)) _open[path] = file = Reported(() => SafeTensorsFile.Open(path));
        return file;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var file in _open.Values) file.Dispose();
        _open.Clear();
    }

    static Dictionary<string, string> FromFile(string file)
    {
        using var opened = Reported(() => SafeTensorsFile.Open(file));
        return opened.Names.ToDictionary(n => n, _ => file);
    }

    static T Reported<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SafeTensorsFormatException e)
        {
            throw new CheckpointException(e.Message, e);
        }
    }

    static Dictionary<string, string> FromIndex(string indexFile)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(indexFile))!;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(indexFile));
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"Index {indexFile} is not valid JSON: {e.Message}", e);
        }
        using var _ = document;
        if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new CheckpointException($"Index {indexFile} has no 'weight_map' object.");
        var sources = new Dictionary<string, string>();
        foreach (var entry in map.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointException($"Index {indexFile}: the shard of '{entry.Name}' is not a file name.");
            var shard = Path.Combine(folder, entry.Value.GetString()!);
            if (!File.Exists(shard)) throw new CheckpointException($"Index {indexFile} names shard {shard} for '{entry.Name}', which does not exist.");
            sources[entry.Name] = shard;
        }
        return sources;
    }
}
