using System.Text.Json;
using Svg2.IO;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// Loads and saves Wan transformer weights in the official safetensors layout: one
/// diffusion_pytorch_model.safetensors, or shards listed by a diffusion_pytorch_model.safetensors.index.json
/// whose "weight_map" maps every tensor name to its shard file.
/// </summary>
public static class WanCheckpoint
{
    /// <summary>The single-file checkpoint name.</summary>
    public const string SingleFileName = "diffusion_pytorch_model.safetensors";

    /// <summary>The shard index name.</summary>
    public const string IndexFileName = "diffusion_pytorch_model.safetensors.index.json";

    /// <summary>
    /// Copies every parameter of <paramref name="model"/> from a checkpoint, converting bf16 or float32
    /// to the model's dtype. <paramref name="path"/> is a folder holding the index or the single file,
    /// an index JSON file, or a safetensors file.
    /// </summary>
    /// <exception cref="WanCheckpointException">A parameter is missing or mis-shaped, the checkpoint holds a tensor the model lacks, or the index is broken.</exception>
    public static void Load(WanModel model, string path)
    {
        var sources = ResolveSources(path);
        var files = new Dictionary<string, SafeTensorsFile>();
        try
        {
            SafeTensorsFile FileOf(string file)
            {
                if (!files.TryGetValue(file, out var opened)) files[file] = opened = SafeTensorsFile.Open(file);
                return opened;
            }

            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var name in sources.Keys)
                if (!parameters.ContainsKey(name))
                    throw new WanCheckpointException($"Checkpoint tensor '{name}' has no parameter in the {model.Config.ModelType} model with {model.Config.Layers} layers (wrong variant or depth?).");

            using var noGrad = no_grad();
            foreach (var (name, parameter) in parameters)
            {
                if (!sources.TryGetValue(name, out var file))
                    throw new WanCheckpointException($"Checkpoint lacks '{name}' (expected shape [{string.Join(", ", parameter.shape)}]).");
                var info = FileOf(file).Info(name);
                if (!info.Shape.SequenceEqual(parameter.shape))
                    throw new WanCheckpointException($"Checkpoint tensor '{name}' has shape {info.ShapeText}; the model expects [{string.Join(", ", parameter.shape)}].");
                if (info.Type is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
                    throw new WanCheckpointException($"Checkpoint tensor '{name}' is {info.DType}; expected a floating-point dtype (F32, BF16 or F16).");
                using var stored = FileOf(file).Read(name);
                parameter.copy_(stored);
            }
        }
        finally
        {
            foreach (var file in files.Values) file.Dispose();
        }
    }

    /// <summary>Writes every parameter of the model to one safetensors file under its official name.</summary>
    public static void Save(WanModel model, string path) =>
        SafeTensorsWriter.Write(path, model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)),
            new Dictionary<string, string> { ["format"] = "pt" });

    // Tensor name to the file that holds it.
    static Dictionary<string, string> ResolveSources(string path)
    {
        if (Directory.Exists(path))
        {
            var index = Path.Combine(path, IndexFileName);
            if (File.Exists(index)) return FromIndex(index);
            var single = Path.Combine(path, SingleFileName);
            if (File.Exists(single)) return FromFile(single);
            throw new WanCheckpointException($"Folder {path} holds neither {IndexFileName} nor {SingleFileName}.");
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint not found: {path}", path);
        return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? FromIndex(path) : FromFile(path);
    }

    static Dictionary<string, string> FromFile(string file)
    {
        using var opened = SafeTensorsFile.Open(file);
        return opened.Names.ToDictionary(n => n, _ => file);
    }

    static Dictionary<string, string> FromIndex(string indexFile)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(indexFile))!;
        using var document = JsonDocument.Parse(File.ReadAllBytes(indexFile));
        if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new WanCheckpointException($"Index {indexFile} has no 'weight_map' object.");
        var sources = new Dictionary<string, string>();
        foreach (var entry in map.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new WanCheckpointException($"Index {indexFile}: the shard of '{entry.Name}' is not a file name.");
            var shard = Path.Combine(folder, entry.Value.GetString()!);
            if (!File.Exists(shard)) throw new WanCheckpointException($"Index {indexFile} names shard {shard} for '{entry.Name}', which does not exist.");
            sources[entry.Name] = shard;
        }
        return sources;
    }
}
