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

    /// <summary>The model in <paramref name="folder"/> (a Wan 2.1 release or its diffusers layout), or the built-in small model when null.</summary>
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
            Steps = sampling.Steps, Guidance = sampling.Guidance, Shift = sampling.Shift,
        };
        return new VideoModel($"built-in small footage model ({small.ParameterCount / 1e6:F1}M parameters)", small.Transformer, small.Conditioning,
            small.Codec, defaults, config.Fps, owned: [small]);
    }

    static VideoModel LoadWan(string path, VideoModelOptions options)
    {
        var folder = WanModelFolder.Open(path);
        if (folder.Config.ModelType != WanModelType.TextToVideo)
            throw new NotSupportedException($"{path} holds a Wan 2.1 image-to-video model; generation supports text to video only in this build.");
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
                WeightType = ScalarType.BFloat16,
                // Wan's way everywhere: the unpadded shortcut drifts past the bf16 bound over 24 layers.
                PadToTextLength = true,
            });
            owned.Add(text);

            using var vaeWeights = folder.OpenVaeWeights();
            var vae = new WanVae(VaeConfigOf(vaeWeights), options.Device, options.DType);
            owned.Add(vae);
            vae.LoadWeights(vaeWeights);

            var defaults = new VideoRequest
            {
                Prompt = "", NegativePrompt = WanPromptDefaults.NegativePrompt,
                Width = folder.Config.Dim >= 5120 ? 1280 : 832, Height = folder.Config.Dim >= 5120 ? 720 : 480,
                Shift = folder.FlowShift ?? Schedulers.FlowShift.WanDefault,
            };
            string size = folder.Config.Dim >= 5120 ? "14B" : "1.3B";
            // The text encoder leaves the GPU once both prompts are encoded, as Wan's offload_model does.
            Action? release = textDevice.type == DeviceType.CUDA ? text.Release : null;
            return new VideoModel($"Wan 2.1 T2V {size} ({folder.Layout} layout)", transformer, text, vae, defaults, WanFps, release, owned);
        }
        catch
        {
            foreach (var item in owned) item.Dispose();
            throw;
        }
    }
}
