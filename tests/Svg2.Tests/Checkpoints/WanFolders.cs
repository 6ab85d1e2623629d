using System.Globalization;
using System.Text.Json;
using Svg2.IO;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Tests.Checkpoints;

/// <summary>Writes Wan 2.1 model folders in both published layouts, with placeholder files where only presence matters.</summary>
static class WanFolders
{
    public static string OfficialConfigJson(WanConfig config, bool withTextDim = true)
    {
        var fields = new Dictionary<string, object>
        {
            ["_class_name"] = "WanModel", ["_diffusers_version"] = "0.30.0",
            ["model_type"] = config.ModelType == WanModelType.ImageToVideo ? "i2v" : "t2v",
            ["dim"] = config.Dim, ["eps"] = config.Eps, ["ffn_dim"] = config.FfnDim, ["freq_dim"] = config.FreqDim,
            ["in_dim"] = config.InDim, ["num_heads"] = config.Heads, ["num_layers"] = config.Layers,
            ["out_dim"] = config.OutDim, ["text_len"] = config.TextLength,
        };
        if (withTextDim) fields["text_dim"] = config.TextDim;
        return JsonSerializer.Serialize(fields);
    }

    public static string DiffusersConfigJson(WanConfig config)
    {
        bool image = config.ModelType == WanModelType.ImageToVideo;
        return JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["_class_name"] = "WanTransformer3DModel", ["_diffusers_version"] = "0.33.0",
            ["added_kv_proj_dim"] = image ? config.Dim : null, ["attention_head_dim"] = config.HeadDim,
            ["cross_attn_norm"] = true, ["eps"] = config.Eps, ["ffn_dim"] = config.FfnDim, ["freq_dim"] = config.FreqDim,
            ["image_dim"] = image ? config.ImageDim : null, ["in_channels"] = config.InDim,
            ["num_attention_heads"] = config.Heads, ["num_layers"] = config.Layers, ["out_channels"] = config.OutDim,
            ["patch_size"] = new[] { config.PatchSize.Frames, config.PatchSize.Height, config.PatchSize.Width },
            ["qk_norm"] = "rms_norm_across_heads", ["rope_max_seq_len"] = 1024, ["text_dim"] = config.TextDim,
        });
    }

    /// <summary>The model's parameters under diffusers' names in one safetensors file.</summary>
    public static void SaveDiffusers(WanModel model, string path) =>
        SafeTensorsWriter.Write(path, model.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>(WanDiffusersNames.FromOfficial(p.name), p.parameter)));

    public static void Touch(string root, string relative, string content = "")
    {
        string path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    /// <summary>An official folder: config.json and the transformer written from the model, the other components as placeholders.</summary>
    public static void Official(string root, WanModel model)
    {
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "config.json"), OfficialConfigJson(model.Config));
        WanCheckpoint.Save(model, Path.Combine(root, WanCheckpoint.SingleFileName));
        Touch(root, "models_t5_umt5-xxl-enc-bf16.pth");
        Touch(root, "Wan2.1_VAE.pth");
        Touch(root, "google/umt5-xxl/spiece.model");
        if (model.Config.ModelType == WanModelType.ImageToVideo)
        {
            Touch(root, "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth");
            Touch(root, "xlm-roberta-large/tokenizer.json");
        }
    }

    /// <summary>A diffusers folder: model_index.json, the transformer written from the model, the other components as placeholders.</summary>
    public static void Diffusers(string root, WanModel model, double flowShift = 3.0)
    {
        bool image = model.Config.ModelType == WanModelType.ImageToVideo;
        Touch(root, "model_index.json", JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["_class_name"] = image ? "WanImageToVideoPipeline" : "WanPipeline",
            ["transformer"] = new[] { "diffusers", "WanTransformer3DModel" },
            ["vae"] = new[] { "diffusers", "AutoencoderKLWan" },
        }));
        Touch(root, "transformer/config.json", DiffusersConfigJson(model.Config));
        SaveDiffusers(model, Path.Combine(root, "transformer", WanCheckpoint.SingleFileName));
        Touch(root, "text_encoder/config.json", "{}");
        Touch(root, "text_encoder/model.safetensors.index.json", "{}");
        Touch(root, "tokenizer/tokenizer.json", "{}");
        Touch(root, "vae/config.json", "{}");
        Touch(root, "vae/diffusion_pytorch_model.safetensors");
        Touch(root, "scheduler/scheduler_config.json",
            $"{{\"_class_name\": \"UniPCMultistepScheduler\", \"flow_shift\": {flowShift.ToString(CultureInfo.InvariantCulture)}, \"prediction_type\": \"flow_prediction\"}}");
        if (image)
        {
            Touch(root, "image_encoder/config.json", "{}");
            Touch(root, "image_encoder/model.safetensors");
            Touch(root, "image_processor/preprocessor_config.json", "{}");
        }
    }
}
