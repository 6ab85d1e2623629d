using System.Text.RegularExpressions;
using Svg2.Models.Checkpoints;
using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>
/// Loads umT5 encoder weights from a tensor source under the official Wan 2.1 names or under
/// transformers' UMT5EncoderModel names, and maps between the two.
/// </summary>
public static partial class UMT5Checkpoint
{
    const string Component = "umT5 encoder";

    /// <summary>transformers' name of the tied copy of the token embedding, which a checkpoint may hold besides shared.weight.</summary>
    public const string TransformersTiedEmbedding = "encoder.embed_tokens.weight";

    /// <summary>
    /// transformers' UMT5EncoderModel name of an encoder parameter (an official name such as
    /// blocks.3.ffn.gate.0.weight becomes encoder.block.3.layer.1.DenseReluDense.wi_0.weight).
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a umT5 encoder parameter.</exception>
    public static string TransformersName(string officialName)
    {
        switch (officialName)
        {
            case "token_embedding.weight": return "shared.weight";
            case "norm.weight": return "encoder.final_layer_norm.weight";
        }
        var match = BlockParameter().Match(officialName);
        if (!match.Success) throw new ArgumentException($"'{officialName}' is not a umT5 encoder parameter.");
        var layer = "encoder.block." + match.Groups[1].Value;
        return match.Groups[2].Value switch
        {
            "norm1.weight" => layer + ".layer.0.layer_norm.weight",
            "attn.q.weight" => layer + ".layer.0.SelfAttention.q.weight",
            "attn.k.weight" => layer + ".layer.0.SelfAttention.k.weight",
            "attn.v.weight" => layer + ".layer.0.SelfAttention.v.weight",
            "attn.o.weight" => layer + ".layer.0.SelfAttention.o.weight",
            "pos_embedding.embedding.weight" => layer + ".layer.0.SelfAttention.relative_attention_bias.weight",
            "norm2.weight" => layer + ".layer.1.layer_norm.weight",
            "ffn.gate.0.weight" => layer + ".layer.1.DenseReluDense.wi_0.weight",
            "ffn.fc1.weight" => layer + ".layer.1.DenseReluDense.wi_1.weight",
            "ffn.fc2.weight" => layer + ".layer.1.DenseReluDense.wo.weight",
            _ => throw new ArgumentException($"'{officialName}' is not a umT5 encoder parameter."),
        };
    }

    /// <summary>Which names the source uses, from its token embedding's name.</summary>
    /// <exception cref="CheckpointException">The source holds neither naming's token embedding.</exception>
    public static UMT5WeightNames DetectNames(ITensorSource source)
    {
        if (source.Contains("token_embedding.weight")) return UMT5WeightNames.Official;
        if (source.Contains("shared.weight") || source.Contains(TransformersTiedEmbedding)) return UMT5WeightNames.Transformers;
        var sample = string.Join(", ", source.Names.Take(5).Select(n => $"'{n}'"));
        throw new CheckpointException($"{Component}: the checkpoint holds no token embedding (token_embedding.weight or shared.weight); " +
            $"it is not a umT5 encoder. Its first tensors: {(sample.Length > 0 ? sample : "none")}.");
    }

    /// <summary>
    /// The configuration the source's shapes describe: vocabulary and width from the token embedding,
    /// depth from the numbered layers, attention, feed-forward and bucket counts from layer 0. The maximum
    /// distance and eps are not stored and come from <paramref name="defaults"/> (umT5-XXL's when null).
    /// </summary>
    /// <exception cref="CheckpointException">A tensor needed for a size is missing or has the wrong rank, or layers are not numbered from 0 without gaps.</exception>
    public static UMT5Config InferConfig(ITensorSource source, UMT5Config? defaults = null)
    {
        var names = DetectNames(source);
        long[] Shape(string officialName, int rank)
        {
            var stored = StoredName(officialName, names, source);
            if (!source.Contains(stored)) throw new CheckpointException($"{Component}: the checkpoint lacks '{stored}', needed to tell the model's size.");
            var entry = source.Describe(stored);
            if (entry.Shape.Length != rank)
                throw new CheckpointException($"{Component}: tensor '{stored}' in {entry.File} has shape {entry.ShapeText}; expected {rank} dimensions.");
            return entry.Shape;
        }

        var layers = new SortedSet<int>();
        foreach (var name in source.Names)
        {
            var match = (names == UMT5WeightNames.Official ? OfficialLayer() : TransformersLayer()).Match(name);
            if (match.Success) layers.Add(int.Parse(match.Groups[1].Value));
        }
        if (layers.Count == 0) throw new CheckpointException($"{Component}: the checkpoint holds no layers.");
        if (layers.Min != 0 || layers.Max != layers.Count - 1)
            throw new CheckpointException($"{Component}: the checkpoint's layers are numbered {layers.Min} to {layers.Max} with {layers.Count} present; expected 0 to {layers.Count - 1}.");

        var embedding = Shape("token_embedding.weight", 2);
        var query = Shape("blocks.0.attn.q.weight", 2);
        var feedForward = Shape("blocks.0.ffn.fc1.weight", 2);
        var bias = Shape("blocks.0.pos_embedding.embedding.weight", 2);
        return (defaults ?? UMT5Config.Xxl) with
        {
            VocabularySize = checked((int)embedding[0]),
            Dim = checked((int)embedding[1]),
            AttentionDim = checked((int)query[0]),
            FeedForwardDim = checked((int)feedForward[0]),
            PositionBuckets = checked((int)bias[0]),
            Heads = checked((int)bias[1]),
            Layers = layers.Count,
        };
    }

    /// <summary>
    /// Copies every parameter of <paramref name="encoder"/> from the source, whichever naming it uses,
    /// converting to the encoder's dtype. A transformers checkpoint may also hold the tied copy
    /// encoder.embed_tokens.weight, which is then ignored.
    /// </summary>
    /// <exception cref="CheckpointException">A tensor is missing, mis-shaped or not floating-point, or the source holds a tensor the encoder has no place for (wrong depth or model).</exception>
    public static void Load(UMT5Encoder encoder, ITensorSource source)
    {
        var names = DetectNames(source);
        var expected = encoder.named_parameters().Select(p => StoredName(p.name, names, source)).ToHashSet();
        foreach (var name in source.Names)
            if (!expected.Contains(name) && !(names == UMT5WeightNames.Transformers && name == TransformersTiedEmbedding))
                throw new CheckpointException($"{Component}: the checkpoint's tensor '{name}' has no place in the model " +
                    $"({encoder.Config.Layers} layers; wrong variant or depth?).");
        ParameterLoader.Load(encoder, source, Component, name => StoredName(name, names, source), allowUnused: true);
    }

    /// <summary>
    /// Creates an encoder of the size the source describes (see <see cref="InferConfig"/>) on
    /// <paramref name="device"/> in <paramref name="dtype"/> and loads it.
    /// </summary>
    /// <exception cref="CheckpointException">As <see cref="InferConfig"/> and <see cref="Load(UMT5Encoder, ITensorSource)"/>.</exception>
    public static UMT5Encoder Load(ITensorSource source, Device? device = null, ScalarType dtype = ScalarType.BFloat16, UMT5Config? defaults = null) =>
        DisposeOnFailure.Run(new UMT5Encoder(InferConfig(source, defaults), device, dtype), encoder => Load(encoder, source));

    static string StoredName(string officialName, UMT5WeightNames names, ITensorSource source)
    {
        if (names == UMT5WeightNames.Official) return officialName;
        var name = TransformersName(officialName);
        // A checkpoint saved without the shared table may keep only the encoder's tied copy.
        return name == "shared.weight" && !source.Contains(name) ? TransformersTiedEmbedding : name;
    }

    [GeneratedRegex(@"^blocks\.(\d+)\.(.+)$")]
    private static partial Regex BlockParameter();

    [GeneratedRegex(@"^blocks\.(\d+)\.")]
    private static partial Regex OfficialLayer();

    [GeneratedRegex(@"^encoder\.block\.(\d+)\.")]
    private static partial Regex TransformersLayer();
}
