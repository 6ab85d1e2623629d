using Svg2.Models.Clip;
using Svg2.Models.Small;
using Svg2.Models.Text;
using Svg2.Models.Vae;
using Svg2.Models.Wan;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>Loads the video model a folder holds, or the built-in one.</summary>
public static class VideoModels
{
    /// <summary>Wan 2.1's frame rate.</summary>
    public const double WanFps = 16;

    /// <summary>
    /// The built-in model's default step count on a CPU: 6 UniPC steps write its video in under 2 minutes on a 2-core
    /// CPU with the default sparse attention (a dense step at 6,336 tokens with guidance takes about 11 s there, a
    /// sparse one about 20 s), and the scene is as recognisable as at 8; on a GPU it takes the model file's (30).
    /// </summary>
    public const int BuiltInCpuSteps = 6;

    /// <summary>
    /// The model in <paramref name="folder"/> (a Wan 2.1 text- or image-to-video release or its diffusers layout), or
    /// the built-in small model when null. An image-to-video model also loads its CLIP image encoder (bf16 on a GPU,
    /// freed once the first frame is encoded).
    /// </summary>
    /// <exception cref="Checkpoints.CheckpointException">The folder holds no complete Wan 2.1 model; the message lists what is missing.</exception>
    /// <exception cref="FileNotFoundException">No folder was given and this build carries no built-in model.</exception>
    public static VideoModel Load(string? folder, VideoModelOptions options) =>
        folder is null ? LoadBuiltIn(options) : LoadWan(folder, options);

    // Wan 2.1's VAE architecture at the width its first encoder convolution has (96 in the published
    // weights), so that narrower VAEs of the same design load too.
    static WanVaeConfig VaeConfigOf(Checkpoints.ITensorSource weights)
    {
        foreach (var name in new[] { "encoder.conv1.weight", "encoder.conv_in.weight" })
            if (weights.Contains(name)) return WanVaeConfig.Wan21 with { BaseDim = checked((int)weights.Describe(name).Shape[0]) };
        return WanVaeConfig.Wan21;
    }

    static VideoModel LoadBuiltIn(VideoModelOptions options)
    {
        var small = BuiltInSmallModel.Load(options.Device, options.DType);
        small.Transformer.Numerics = options.Numerics;
        var sampling = small.Sampling;
        var config = small.Config;
        var defaults = new VideoRequest
        {
            Prompt = config.Sources[0], NegativePrompt = "", Width = config.Width, Height = config.Height, Frames = config.Frames,
            Steps = options.Device.type == DeviceType.CPU ? Math.Min(sampling.Steps, BuiltInCpuSteps) : sampling.Steps,
            Guidance = sampling.Guidance, Shift = sampling.Shift,
        };
        return new VideoModel($"built-in small footage model ({small.ParameterCount / 1e6:F1}M parameters)", small.Transformer, small.Conditioning,
            small.Codec, defaults, config.Fps, owned: [small]);
    }

    static VideoModel LoadWan(string path, VideoModelOptions options)
    {
        var folder = WanModelFolder.Open(path);
        bool imageToVideo = folder.Config.ModelType == WanModelType.ImageToVideo;
        var owned = new List<IDisposable>();
        try
        {
            var transformer = folder.LoadTransformer(options.Device, options.DType);
            owned.Add(transformer);
            transformer.Numerics = options.Numerics;

            var textDevice = options.TextOnCpu ? CPU : options.Device;
            using var textWeights = folder.OpenTextEncoderWeights();
            var text = UMT5PromptEncoder.Load(folder.TokenizerPath, textWeights, new UMT5PromptEncoderOptions
            {
                Device = textDevice,
                WeightType = options.TextDType,
                // Wan's way everywhere: the unpadded shortcut drifts past the bf16 bound over 24 layers.
                PadToTextLength = true,
            });
            owned.Add(text);

            using var vaeWeights = folder.OpenVaeWeights();
            var vae = new WanVae(VaeConfigOf(vaeWeights), options.Device, options.VaeDType ?? options.DType);
            owned.Add(vae);
            vae.LoadWeights(vaeWeights);

            ClipImageEncoder? image = null;
            if (imageToVideo)
            {
                using var imageWeights = folder.OpenImageEncoderWeights();
                var imageConfig = folder.Layout == WanFolderLayout.Diffusers
                    ? ClipCheckpoint.ReadTransformersConfig(Path.Combine(folder.ImageEncoderPath!, "config.json"))
                    : null;
                var imageType = options.Device.type == DeviceType.CUDA ? ScalarType.BFloat16 : options.DType;
                image = ClipImageEncoder.Load(imageWeights, imageConfig, options.Device, imageType);
                owned.Add(image);
            }

            var defaults = new VideoRequest
            {
                Prompt = "", NegativePrompt = imageToVideo ? WanPromptDefaults.ImageToVideoNegativePrompt : WanPromptDefaults.NegativePrompt,
                Width = folder.Config.Dim >= 5120 ? 1280 : 832, Height = folder.Config.Dim >= 5120 ? 720 : 480,
                // generate.py samples image to video with 40 steps, text to video with 50.
                Steps = imageToVideo ? 40 : 50,
                Shift = folder.FlowShift ?? Schedulers.FlowShift.WanDefault,
            };
            string size = folder.Config.Dim >= 5120 ? "14B" : "1.3B";
            // The encoders leave the GPU once their inputs are encoded, as Wan's offload_model does.
            Action? release = textDevice.type == DeviceType.CUDA ? text.Release : null;
            Action? releaseImage = image is not null && options.Device.type == DeviceType.CUDA ? image.Release : null;
            return new VideoModel($"Wan 2.1 {(imageToVideo ? "I2V" : "T2V")} {size} ({folder.Layout} layout)", transformer, text, vae, defaults, WanFps, release, owned,
                image, releaseImage);
        }
        catch
        {
            foreach (var item in owned) item.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A Wan 2.1 text-to-video model of a published size with seeded random weights built directly on the device
    /// (umT5-XXL, the transformer and the VAE, with a character tokenizer): no checkpoint is read or written. For
    /// measuring memory and speed at full size; the video it generates is noise.
    /// </summary>
    /// <param name="size">14B, 1.3B, or tiny (a small model for tests on a CPU).</param>
    /// <param name="options">Device, weight types and numerics, as for a checkpoint.</param>
    /// <param name="seed">Seed of the weights.</param>
    /// <exception cref="ArgumentException">Unknown size.</exception>
    public static VideoModel LoadRandom(string size, VideoModelOptions options, long seed = 0)
    {
        var (config, textConfig, vaeConfig, name) = size.ToLowerInvariant() switch
        {
            "14b" => (WanConfig.TextToVideo14B, UMT5Config.Xxl, WanVaeConfig.Wan21, "14B"),
            "1.3b" => (WanConfig.TextToVideo1_3B, UMT5Config.Xxl, WanVaeConfig.Wan21, "1.3B"),
            "tiny" => (WanConfig.Tiny, UMT5Config.Tiny, WanVaeConfig.Wan21 with { BaseDim = 8 }, "tiny"),
            _ => throw new ArgumentException($"Unknown model size '{size}' for random weights (expected 14B, 1.3B or tiny)."),
        };
        var tokenizer = UMT5Tokenizer.Characters(config.TextLength);
        textConfig = textConfig with { VocabularySize = Math.Max(textConfig.VocabularySize, tokenizer.VocabularySize) };
        var owned = new List<IDisposable>();
        try
        {
            var transformer = new WanModel(config, options.Device, options.DType) { Numerics = options.Numerics };
            owned.Add(transformer);
            RandomWeights.Fill(transformer, seed);
            var encoder = new UMT5Encoder(textConfig, options.TextOnCpu ? CPU : options.Device, options.TextDType);
            owned.Add(encoder);
            RandomWeights.Fill(encoder, seed + 1);
            var text = new UMT5PromptEncoder(tokenizer, encoder);
            owned.Add(text);
            var vae = new WanVae(vaeConfig, options.Device, options.VaeDType ?? options.DType);
            owned.Add(vae);
            RandomWeights.Fill(vae, seed + 2);

            var defaults = new VideoRequest
            {
                Prompt = "", NegativePrompt = WanPromptDefaults.NegativePrompt,
                Width = config.Dim >= 5120 ? 1280 : 832, Height = config.Dim >= 5120 ? 720 : 480,
            };
            // As for a checkpoint: the text encoder leaves the GPU once both prompts are encoded.
            Action? release = text.Device.type == DeviceType.CUDA ? text.Release : null;
            return new VideoModel($"Wan 2.1 T2V {name} with random weights (a memory and speed measurement: the video is noise)",
                transformer, text, vae, defaults, WanFps, release, owned);
        }
        catch
        {
            foreach (var item in owned) item.Dispose();
            throw;
        }
    }
}
