using Svg2.Models.Checkpoints;

namespace Svg2.Models.Wan;

/// <summary>
/// Reads a <see cref="WanConfig"/> from the config.json of the official Wan 2.1 release (class WanModel:
/// model_type, dim, ffn_dim, num_heads, num_layers, in_dim, out_dim, text_len, freq_dim, eps) or from a
/// diffusers transformer/config.json (class WanTransformer3DModel: num_attention_heads,
/// attention_head_dim, in_channels, out_channels, text_dim, freq_dim, ffn_dim, num_layers, eps,
/// image_dim, patch_size).
/// </summary>
/// <remarks>
/// Fields that the official file leaves out (the model's ignore_for_config list: patch size, text width,
/// window size, q/k norm and cross-attention norm) take the public defaults. Variants this model does not
/// implement are refused by name rather than loaded wrongly: model types other than t2v and i2v (flf2v,
/// vace), local attention windows, disabled q/k or cross-attention norms, and diffusers' image position
/// embedding (pos_embed_seq_len, first-last-frame models). The diffusers file has no text length; it is
/// the pipelines' default of 512.
/// </remarks>
public static class WanConfigFile
{
    /// <summary>The class name of the official model's config.json.</summary>
    public const string OfficialClassName = "WanModel";

    /// <summary>The class name of diffusers' transformer config.json.</summary>
    public const string DiffusersClassName = "WanTransformer3DModel";

    /// <summary>Reads either kind of file, told apart by its _class_name (or, without one, by its fields).</summary>
    /// <exception cref="CheckpointException">The file is missing or malformed, lacks a field, or describes a variant this model does not implement.</exception>
    public static WanConfig Read(string path)
    {
        using var json = ConfigJson.Open(path);
        string? className = json.String("_class_name");
        bool diffusers = className == DiffusersClassName || (className is null && json.Has("num_attention_heads"));
        if (className is not null && className != OfficialClassName && className != DiffusersClassName)
            throw new CheckpointException($"{path} describes a {className}; expected {OfficialClassName} (official Wan 2.1) or {DiffusersClassName} (diffusers).");
        var config = diffusers ? FromDiffusers(json) : FromOfficial(json);
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CheckpointException($"{path} describes an impossible model: {e.Message}", e);
        }
        return config;
    }

    static WanConfig FromOfficial(ConfigJson json)
    {
        string modelType = json.String("model_type") ?? throw new CheckpointException($"{json.Path} lacks 'model_type' (t2v or i2v).");
        var type = modelType switch
        {
            "t2v" => WanModelType.TextToVideo,
            "i2v" => WanModelType.ImageToVideo,
            _ => throw new CheckpointException($"{json.Path}: model_type '{modelType}' is not supported (t2v and i2v are)."),
        };
        var window = json.Ints("window_size");
        if (window is not null && window.Any(w => w != -1))
            throw new CheckpointException($"{json.Path}: window_size [{string.Join(", ", window)}] asks for local attention, which is not supported (only [-1, -1]).");
        if (!json.Bool("qk_norm", true) || !json.Bool("cross_attn_norm", true))
            throw new CheckpointException($"{json.Path}: qk_norm and cross_attn_norm must be true (as in every Wan 2.1 release).");
        var defaults = new WanConfig();
        return new WanConfig
        {
            ModelType = type,
            PatchSize = PatchSize(json, defaults),
            TextLength = json.Int("text_len", defaults.TextLength),
            InDim = json.Int("in_dim"),
            Dim = json.Int("dim"),
            FfnDim = json.Int("ffn_dim"),
            FreqDim = json.Int("freq_dim", defaults.FreqDim),
            TextDim = json.Int("text_dim", defaults.TextDim),
            OutDim = json.Int("out_dim"),
            Heads = json.Int("num_heads"),
            Layers = json.Int("num_layers"),
            Eps = json.Double("eps", defaults.Eps),
        };
    }

    static WanConfig FromDiffusers(ConfigJson json)
    {
        if (json.Has("pos_embed_seq_len"))
            throw new CheckpointException($"{json.Path}: pos_embed_seq_len is set (a first-last-frame model), which is not supported.");
        if (!json.Bool("cross_attn_norm", true))
            throw new CheckpointException($"{json.Path}: cross_attn_norm must be true (as in every Wan 2.1 release).");
        string? qkNorm = json.String("qk_norm");
        if (qkNorm != "rms_norm_across_heads")
            throw new CheckpointException($"{json.Path}: qk_norm '{qkNorm}' is not supported (only 'rms_norm_across_heads').");
        var defaults = new WanConfig();
        int heads = json.Int("num_attention_heads");
        int dim = heads * json.Int("attention_head_dim");
        bool image = json.Has("image_dim");
        if (image && json.Has("added_kv_proj_dim") && json.Int("added_kv_proj_dim") != dim)
            throw new CheckpointException($"{json.Path}: added_kv_proj_dim {json.Int("added_kv_proj_dim")} differs from the width {dim}, which Wan 2.1 image to video never does.");
        return new WanConfig
        {
            ModelType = image ? WanModelType.ImageToVideo : WanModelType.TextToVideo,
            PatchSize = PatchSize(json, defaults),
            InDim = json.Int("in_channels"),
            Dim = dim,
            FfnDim = json.Int("ffn_dim"),
            FreqDim = json.Int("freq_dim", defaults.FreqDim),
            TextDim = json.Int("text_dim", defaults.TextDim),
            ImageDim = image ? json.Int("image_dim") : defaults.ImageDim,
            OutDim = json.Int("out_channels", json.Int("in_channels")),
            Heads = heads,
            Layers = json.Int("num_layers"),
            Eps = json.Double("eps", defaults.Eps),
        };
    }

    static (int, int, int) PatchSize(ConfigJson json, WanConfig defaults)
    {
        var patch = json.Ints("patch_size");
        if (patch is null) return defaults.PatchSize;
        if (patch.Length != 3) throw new CheckpointException($"{json.Path}: patch_size must have three entries (frames, height, width).");
        return (patch[0], patch[1], patch[2]);
    }
}
