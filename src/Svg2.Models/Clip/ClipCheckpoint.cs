using System.Text.RegularExpressions;
using Svg2.Models.Checkpoints;
using static TorchSharp.torch;

namespace Svg2.Models.Clip;

/// <summary>
/// Loads the CLIP vision tower from the official open-clip state dict (names under <c>visual.</c>; the
/// text tower and the logit scale are never read) or from transformers' CLIPVisionModel names (diffusers'
/// image_encoder/). The last block, the final norm and the projection head are stored but not loaded:
/// Wan's features are the output of the block before them.
/// </summary>
public static partial class ClipCheckpoint
{
    /// <summary>The component's name in messages.</summary>
    public const string Component = "CLIP vision encoder";

    const string OfficialPrefix = "visual.";
    const string TransformersPrefix = "vision_model.";

    /// <summary>Which names the source uses, from its patch embedding's name.</summary>
    /// <exception cref="CheckpointException">The source holds neither naming's patch embedding.</exception>
    public static ClipWeightNames DetectNames(ITensorSource source)
    {
        if (source.Contains(OfficialPrefix + "patch_embedding.weight")) return ClipWeightNames.Official;
        if (source.Contains(TransformersClipView.Label("patch_embedding.weight"))) return ClipWeightNames.Transformers;
        var sample = string.Join(", ", source.Names.Take(5).Select(n => $"'{n}'"));
        throw new CheckpointException($"{Component}: the checkpoint holds no patch embedding (visual.patch_embedding.weight or " +
            $"vision_model.embeddings.patch_embedding.weight); it is not a CLIP vision tower. Its first tensors: {(sample.Length > 0 ? sample : "none")}.");
    }

    /// <summary>
    /// The configuration the source's shapes describe: width and patch from the patch embedding, image size
    /// from the position table, MLP width from block 0, depth from the numbered blocks. A state dict does not
    /// record the head count: it is the width over <paramref name="headDim"/> (ViT-H/14's 80 by default).
    /// </summary>
    /// <exception cref="CheckpointException">A tensor needed for a size is missing or ill-shaped, blocks are not numbered from 0 without gaps, or the width is not a multiple of the head width.</exception>
    public static ClipVisionConfig InferConfig(ITensorSource source, int headDim = ClipVisionConfig.VitH14HeadDim)
    {
        var (view, label) = Named(source, DetectNames(source));
        long[] Shape(string name, params int[] ranks)
        {
            string stored = label(name);
            if (!view.Contains(stored)) throw new CheckpointException($"{Component}: the checkpoint lacks '{stored}', needed to tell the model's size.");
            var entry = view.Describe(stored);
            if (!ranks.Contains(entry.Shape.Length))
                throw new CheckpointException($"{Component}: tensor '{entry.Name}' has shape {entry.ShapeText}; expected {string.Join(" or ", ranks)} dimensions ({entry.File}).");
            return entry.Shape;
        }

        var patch = Shape("patch_embedding.weight", 4);
        var positions = Shape("pos_embedding", 3);
        var mlp = Shape("transformer.0.mlp.0.weight", 2);
        int layers = CountLayers(source);
        long grid = (long)Math.Round(Math.Sqrt(positions[1] - 1));
        if (positions[1] < 2 || grid * grid != positions[1] - 1 || patch[2] != patch[3])
            throw new CheckpointException($"{Component}: the position table has {positions[1]} tokens and the patches are {patch[2]}x{patch[3]}; " +
                "expected a class token and a square grid of square patches.");
        if (patch[0] % headDim != 0)
            throw new CheckpointException($"{Component}: width {patch[0]} is not a multiple of the head width {headDim}.");
        return ClipVisionConfig.VitH14 with
        {
            Dim = checked((int)patch[0]),
            PatchSize = checked((int)patch[2]),
            ImageSize = checked((int)(grid * patch[2])),
            MlpDim = checked((int)mlp[0]),
            Heads = checked((int)(patch[0] / headDim)),
            Layers = layers,
        };
    }

    /// <summary>
    /// The configuration in a transformers CLIPVisionConfig file (diffusers' image_encoder/config.json), with
    /// transformers' defaults for the fields a saved configuration leaves out.
    /// </summary>
    /// <exception cref="CheckpointException">The file is unreadable, a field has the wrong type, or the activation is not the exact GELU Wan's CLIP uses.</exception>
    public static ClipVisionConfig ReadTransformersConfig(string path)
    {
        using var json = ConfigJson.Open(path);
        string activation = json.String("hidden_act") ?? "quick_gelu";
        if (activation != "gelu")
            throw new CheckpointException($"{path}: hidden_act is '{activation}'; Wan 2.1's CLIP vision tower uses 'gelu' (exact), the only activation implemented.");
        var config = new ClipVisionConfig
        {
            Dim = json.Int("hidden_size", 768),
            MlpDim = json.Int("intermediate_size", 3072),
            Heads = json.Int("num_attention_heads", 12),
            Layers = json.Int("num_hidden_layers", 12),
            ImageSize = json.Int("image_size", 224),
            PatchSize = json.Int("patch_size", 32),
            Eps = json.Double("layer_norm_eps", 1e-5),
        };
        try { config.Validate(); }
        catch (ArgumentException error) { throw new CheckpointException($"{path}: {error.Message}"); }
        return config;
    }

    /// <summary>
    /// Copies every parameter of <paramref name="encoder"/> from the source, whichever naming it uses, converting
    /// to the encoder's dtype. The source must hold the encoder's depth plus one block (the last, not used).
    /// </summary>
    /// <exception cref="CheckpointException">A tensor is missing, mis-shaped or not floating-point, the source's vision tower has another depth, or it holds a vision tensor the encoder has no place for.</exception>
    public static void Load(ClipVisionEncoder encoder, ITensorSource source)
    {
        var names = DetectNames(source);
        var (view, label) = Named(source, names);
        string prefix = names == ClipWeightNames.Official ? OfficialPrefix : TransformersPrefix;
        int layers = encoder.Config.Layers;
        int stored = CountLayers(source);
        if (stored != layers)
            throw new CheckpointException($"{Component}: the checkpoint's vision tower has {stored} blocks; the model expects {layers} " +
                $"(its features are the output of the first {layers - 1}).");

        var expected = encoder.named_parameters().SelectMany(p => TransformersClipView.Parts(label(p.name))).ToHashSet();
        string[] unused = names == ClipWeightNames.Official
            ? [$"visual.transformer.{layers - 1}.", "visual.post_norm.", "visual.head"]
            : [$"vision_model.encoder.layers.{layers - 1}.", "vision_model.post_layernorm.", "vision_model.embeddings.position_ids"];
        foreach (var name in source.Names)
            if (name.StartsWith(prefix, StringComparison.Ordinal) && !expected.Contains(name) && !unused.Any(u => name.StartsWith(u, StringComparison.Ordinal)))
                throw new CheckpointException($"{Component}: the checkpoint's tensor '{name}' has no place in the model (wrong variant?).");
        ParameterLoader.Load(encoder, view, Component, label, allowUnused: true);
    }

    /// <summary>
    /// Creates an encoder of <paramref name="config"/> (when null, the one the source's shapes describe:
    /// <see cref="InferConfig"/>) on <paramref name="device"/> in <paramref name="dtype"/> and loads it.
    /// </summary>
    /// <exception cref="CheckpointException">As <see cref="InferConfig"/> and <see cref="Load(ClipVisionEncoder, ITensorSource)"/>.</exception>
    public static ClipVisionEncoder Load(ITensorSource source, ClipVisionConfig? config = null, Device? device = null, ScalarType dtype = ScalarType.BFloat16) =>
        DisposeOnFailure.Run(new ClipVisionEncoder(config ?? InferConfig(source), device, dtype), encoder => Load(encoder, source));

    // The source under per-parameter labels: the official names themselves, or the transformers view's.
    static (ITensorSource View, Func<string, string> Label) Named(ITensorSource source, ClipWeightNames names) =>
        names == ClipWeightNames.Official ? (source, name => OfficialPrefix + name) : (new TransformersClipView(source), TransformersClipView.Label);

    static int CountLayers(ITensorSource source)
    {
        var layers = new SortedSet<int>();
        foreach (var name in source.Names)
        {
            var match = StoredLayer().Match(name);
            if (match.Success) layers.Add(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
        if (layers.Count == 0) throw new CheckpointException($"{Component}: the checkpoint holds no vision blocks.");
        if (layers.Min != 0 || layers.Max != layers.Count - 1)
            throw new CheckpointException($"{Component}: the checkpoint's vision blocks are numbered {layers.Min} to {layers.Max} with {layers.Count} present; expected 0 to {layers.Count - 1}.");
        return layers.Count;
    }

    [GeneratedRegex(@"^(?:visual\.transformer|vision_model\.encoder\.layers)\.(\d+)\.")]
    private static partial Regex StoredLayer();
}
