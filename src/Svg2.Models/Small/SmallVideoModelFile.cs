using System.Text.Json;
using Svg2.IO;
using Svg2.Models.Checkpoints;
using static TorchSharp.torch;

namespace Svg2.Models.Small;

/// <summary>
/// A trained small footage model as one safetensors file: every parameter under its model name, and in
/// the metadata the configuration ("config"), the codec's channel statistics ("normalisation") and the
/// default sampling ("sampling") as JSON, with "format" = <see cref="Format"/>. Other metadata entries
/// (how it was trained) are kept as given.
/// </summary>
public static class SmallVideoModelFile
{
    /// <summary>The "format" metadata value of these files.</summary>
    public const string Format = "svg2-small-video/1";

    const string FormatKey = "format";
    const string ConfigKey = "config";
    const string NormalisationKey = "normalisation";
    const string SamplingKey = "sampling";

    /// <summary>Writes the model's parameters converted to <paramref name="dtype"/> (bf16 for a shipped model) with its metadata.</summary>
    /// <exception cref="ArgumentException">An extra metadata key collides with one of the format's keys.</exception>
    public static void Write(SmallVideoModel model, string path, ScalarType dtype, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var metadata = new Dictionary<string, string>
        {
            [FormatKey] = Format,
            [ConfigKey] = JsonSerializer.Serialize(model.Config, SmallModelJson.Default.SmallVideoConfig),
            [NormalisationKey] = JsonSerializer.Serialize(model.Codec.Normalisation, SmallModelJson.Default.ChannelNormalisation),
            [SamplingKey] = JsonSerializer.Serialize(model.Sampling, SmallModelJson.Default.SmallVideoSampling),
        };
        foreach (var (key, value) in extraMetadata ?? new Dictionary<string, string>())
            if (!metadata.TryAdd(key, value)) throw new ArgumentException($"Metadata key '{key}' is reserved by the small-model file format.");
        using var scope = NewDisposeScope();
        var tensors = model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach().to(dtype))).ToList();
        SafeTensorsWriter.Write(path, tensors, metadata);
    }

    /// <summary>The metadata of a model file (configuration, statistics, sampling and the extra entries), without reading its weights.</summary>
    /// <exception cref="CheckpointException">The file is not a small-model file or its metadata is malformed; the message names the file and entry.</exception>
    public static (SmallVideoConfig Config, ChannelNormalisation Normalisation, SmallVideoSampling Sampling, IReadOnlyDictionary<string, string> Metadata) ReadMetadata(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        var metadata = file.Metadata;
        if (!metadata.TryGetValue(FormatKey, out var format) || format != Format)
            throw new CheckpointException($"{path} is not a small video model file: its metadata 'format' is '{format ?? "(missing)"}', expected '{Format}'.");
        return (Parse(path, metadata, ConfigKey, SmallModelJson.Default.SmallVideoConfig),
            Parse(path, metadata, NormalisationKey, SmallModelJson.Default.ChannelNormalisation),
            Parse(path, metadata, SamplingKey, SmallModelJson.Default.SmallVideoSampling),
            metadata);
    }

    /// <summary>Builds the model a file describes and loads its weights, converted to <paramref name="dtype"/>, onto <paramref name="device"/>.</summary>
    /// <exception cref="CheckpointException">The file's metadata or tensors do not describe a valid model; the message names the file and tensor or entry.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    public static SmallVideoModel Read(string path, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var (config, normalisation, sampling, _) = ReadMetadata(path);
        SmallVideoModel model;
        try
        {
            model = new SmallVideoModel(config, normalisation, sampling, device, dtype);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointException($"{path} describes a model that cannot be built: {e.Message}", e);
        }
        try
        {
            using var source = SafeTensorsSource.Open(path);
            ParameterLoader.Load(model, source, $"small video model {path}");
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static T Parse<T>(string path, IReadOnlyDictionary<string, string> metadata, string key, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        if (!metadata.TryGetValue(key, out var json)) throw new CheckpointException($"{path}: the metadata lacks '{key}'.");
        try
        {
            return JsonSerializer.Deserialize(json, type) ?? throw new CheckpointException($"{path}: metadata '{key}' is null.");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: metadata '{key}' is not valid ({e.Message}).", e);
        }
    }
}
