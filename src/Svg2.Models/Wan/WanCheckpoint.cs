using Svg2.IO;
using Svg2.Models.Checkpoints;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// Loads and saves Wan transformer weights: one diffusion_pytorch_model.safetensors, or shards listed by a
/// diffusion_pytorch_model.safetensors.index.json whose "weight_map" maps every tensor name to its shard
/// file, under the official Wan 2.1 names or under diffusers' WanTransformer3DModel names (see
/// <see cref="WanDiffusersNames"/>; the naming is recognised from the tensors).
/// </summary>
public static class WanCheckpoint
{
    /// <summary>The single-file checkpoint name.</summary>
    public const string SingleFileName = "diffusion_pytorch_model.safetensors";

    /// <summary>The shard index name.</summary>
    public const string IndexFileName = SingleFileName + ".index.json";

    /// <summary>
    /// Copies every parameter of <paramref name="model"/> from a checkpoint, converting bf16, fp16 or
    /// float32 to the model's dtype. <paramref name="path"/> is a folder holding the index or the single
    /// file (an official release folder or a diffusers transformer/ folder), an index JSON file, or a
    /// safetensors file.
    /// </summary>
    /// <exception cref="WanCheckpointException">A parameter is missing or mis-shaped, the checkpoint holds a tensor the model lacks, or a file or the index is broken.</exception>
    /// <exception cref="FileNotFoundException">The path does not exist.</exception>
    public static void Load(WanModel model, string path)
    {
        SafeTensorsSource source;
        try
        {
            source = SafeTensorsSource.Open(path, SingleFileName);
        }
        catch (CheckpointException e)
        {
            throw new WanCheckpointException(e.Message, e);
        }
        using (source) Load(model, source);
    }

    /// <summary>Copies every parameter of <paramref name="model"/> from a tensor source with official or diffusers names.</summary>
    /// <exception cref="WanCheckpointException">A parameter is missing or mis-shaped, the source holds a tensor the model lacks, or its data is unreadable.</exception>
    public static void Load(WanModel model, ITensorSource source)
    {
        Func<string, string>? sourceName = WanDiffusersNames.AreUsedBy(source) ? WanDiffusersNames.FromOfficial : null;
        string component = $"Wan transformer ({model.Config.ModelType}, {model.Config.Layers} layers{(sourceName is null ? "" : ", diffusers names")})";
        try
        {
            ParameterLoader.Load(model, source, component, sourceName);
        }
        catch (CheckpointException e) when (e is not WanCheckpointException)
        {
            throw new WanCheckpointException(e.Message, e);
        }
    }

    /// <summary>Writes every parameter of the model to one safetensors file under its official name.</summary>
    public static void Save(WanModel model, string path) =>
        SafeTensorsWriter.Write(path, model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)),
            new Dictionary<string, string> { ["format"] = "pt" });
}
