using Svg2.Models.Sampling;
using Svg2.Models.Schedulers;
using static TorchSharp.torch;

namespace Svg2.Models.Small;

/// <summary>
/// Generates footage-like videos with a small model: seeded noise in its latent space, Wan's UniPC sampler
/// with classifier-free guidance of the source condition against the null condition, then the codec's
/// decoding. The transformer's attention processor and numerics are whatever the model has set.
/// </summary>
public sealed class SmallVideoSampler
{
    readonly SmallVideoModel _model;

    /// <summary>Creates a sampler for the model.</summary>
    public SmallVideoSampler(SmallVideoModel model) => _model = model;

    /// <summary>Called after every denoising step with its index and the new latents.</summary>
    public Action<int, Tensor>? StepCompleted { get; set; }

    /// <summary>
    /// One video of <paramref name="source"/>, [1, 3, F, H, W] float32 in [-1, 1] on the CPU. Size and
    /// sampling default to the model's (its training clip size and <see cref="SmallVideoModel.Sampling"/>).
    /// </summary>
    /// <param name="source">A source name the model knows.</param>
    /// <param name="seed">Seed of the initial noise, drawn on the CPU: a seed gives the same noise on every device.</param>
    /// <param name="sampling">Steps, guidance and shift (the model's default when null).</param>
    /// <param name="frames">Frames (the training clips' when null).</param>
    /// <param name="height">Frame height in pixels, a multiple of the model's pixels per token.</param>
    /// <param name="width">Frame width in pixels, a multiple of the model's pixels per token.</param>
    /// <param name="guidance">Batched or sequential guidance passes.</param>
    /// <exception cref="ArgumentException">An unknown source, or a size or sampling value that cannot work.</exception>
    public Tensor Generate(string source, long seed, SmallVideoSampling? sampling = null, int? frames = null, int? height = null, int? width = null,
        GuidanceMode guidance = GuidanceMode.Batched)
    {
        var config = _model.Config;
        var settings = sampling ?? _model.Sampling;
        settings.Validate();
        int f = frames ?? config.Frames, h = height ?? config.Height, w = width ?? config.Width;
        config.ValidateSize(f, h, w);
        if (_model.Conditioning.IndexOf(source) == _model.Conditioning.NullIndex)
            throw new ArgumentException($"Name a footage source to generate ({string.Join(", ", config.Sources)}); the empty prompt is the unconditional pass.");

        using var conditional = _model.Conditioning.Encode(source);
        using var unconditional = _model.Conditioning.Encode("");
        int factor = config.SpatialFactor;
        using var noise = WanSampler.Noise(config.LatentChannels, f, h / factor, w / factor, seed, _model.Device);
        var sampler = new WanSampler(_model.Transformer) { StepCompleted = StepCompleted };
        using var latents = sampler.Sample(noise, conditional, unconditional, new FlowUniPCScheduler(settings.Steps, settings.Shift), settings.Guidance, guidance);
        using var scope = NewDisposeScope();
        return _model.Codec.Decode(latents).to(ScalarType.Float32, CPU).MoveToOuterDisposeScope();
    }
}
