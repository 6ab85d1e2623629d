using System.Text.Json;
using Svg2.IO;
using Svg2.Models.Text;
using Svg2.Models.Vae;
using Svg2.Models.Wan;
using Svg2.Tests.Checkpoints;
using Svg2.Tests.Clip;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Pipelines;

/// <summary>
/// A complete Wan 2.1 text-to-video (or image-to-video) folder in the diffusers layout with tiny random
/// components: a 2-layer transformer, a 2-layer umT5 over the test tokenizer's 800 pieces, a VAE of base
/// width 8, and for image to video the tiny CLIP vision tower under transformers' names with its config.json.
/// </summary>
static class TinyWanFolder
{
    const int TextDim = 32;

    public static void Write(string root, int seed = 1, bool imageToVideo = false)
    {
        manual_seed(seed);
        var clip = TinyClip.Config;
        var config = new WanConfig { Dim = 32, Heads = 2, FfnDim = 48, FreqDim = 16, TextDim = TextDim, TextLength = 16, Layers = 2 };
        if (imageToVideo) config = config with { ModelType = WanModelType.ImageToVideo, InDim = 36, ImageDim = clip.Dim };
        using (var transformer = new WanModel(config))
        {
            Randomise(transformer, seed);
            WanFolders.Diffusers(root, transformer);
        }

        using (var encoder = new UMT5Encoder(UMT5Config.Tiny with { VocabularySize = 800, Dim = TextDim, AttentionDim = TextDim }, CPU, ScalarType.Float32))
        {
            Randomise(encoder, seed + 1);
            File.Delete(Path.Combine(root, "text_encoder", "model.safetensors.index.json"));
            SafeTensorsWriter.Write(Path.Combine(root, "text_encoder", "model.safetensors"),
                encoder.named_parameters().Select(p => new KeyValuePair<string, Tensor>(UMT5Checkpoint.TransformersName(p.name), p.parameter)));
        }
        File.Delete(Path.Combine(root, "tokenizer", "tokenizer.json"));
        File.Copy(SharedData.Path("tokenizer/unigram.model"), Path.Combine(root, "tokenizer", "spiece.model"));

        var vaeConfig = WanVaeConfig.Wan21 with { BaseDim = 8 };
        using (var vae = new WanVae(vaeConfig))
        {
            Randomise(vae, seed + 2);
            var names = WanVaeDiffusersNames.For(vaeConfig);
            SafeTensorsWriter.Write(Path.Combine(root, "vae", "diffusion_pytorch_model.safetensors"),
                vae.named_parameters().Select(p => new KeyValuePair<string, Tensor>(names(p.name), p.parameter)));
        }

        if (imageToVideo)
        {
            SafeTensorsWriter.Write(Path.Combine(root, "image_encoder", "model.safetensors"),
                TinyClip.TransformersWeights(TinyClip.OfficialWeights(clip, seed + 3), clip).Select(p => new KeyValuePair<string, Tensor>(p.Key, p.Value.contiguous())));
            File.WriteAllText(Path.Combine(root, "image_encoder", "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["architectures"] = new[] { "CLIPVisionModelWithProjection" }, ["hidden_act"] = "gelu", ["hidden_size"] = clip.Dim,
                ["image_size"] = clip.ImageSize, ["intermediate_size"] = clip.MlpDim, ["model_type"] = "clip_vision_model",
                ["num_attention_heads"] = clip.Heads, ["num_hidden_layers"] = clip.Layers, ["patch_size"] = clip.PatchSize,
            }));
        }
    }

    static void Randomise(nn.Module module, int seed)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (_, parameter) in module.named_parameters())
            parameter.copy_(randn(parameter.shape, generator: generator) * 0.2);
    }
}
