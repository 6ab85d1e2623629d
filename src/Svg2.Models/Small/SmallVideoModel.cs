using Svg2.Models.Wan;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Small;

/// <summary>
/// A small Wan text-to-video transformer for footage with what it needs to run: its source conditioning
/// (the prompt encoder), its pixel-unshuffle codec and its default sampling. Parameter names: the
/// transformer's official Wan names under "transformer.", the conditioning table as
/// "conditioning.embedding".
/// </summary>
public sealed class SmallVideoModel : nn.Module
{
    /// <summary>Creates the model with untrained weights (see <see cref="Initialise"/>, or load trained ones with <see cref="SmallVideoModelFile.Read"/>).</summary>
    /// <exception cref="ArgumentException">The configuration or the normalisation cannot work.</exception>
    public SmallVideoModel(SmallVideoConfig config, ChannelNormalisation normalisation, SmallVideoSampling sampling, Device? device = null,
        ScalarType dtype = ScalarType.Float32) : base(nameof(SmallVideoModel))
    {
        config.Validate();
        sampling.Validate();
        Config = config;
        Sampling = sampling;
        Codec = new PixelUnshuffleCodec(config.SpatialFactor, normalisation);
        Transformer = new WanModel(config.ToWan(), device, dtype);
        Conditioning = new SourcePromptEncoder(config.Sources, config.ContextTokens, config.ContextDim, device, dtype);
        register_module("transformer", Transformer);
        register_module("conditioning", Conditioning);
    }

    /// <summary>The configuration the model was built with.</summary>
    public SmallVideoConfig Config { get; }

    /// <summary>The Wan transformer (set its attention processor and numerics here).</summary>
    public WanModel Transformer { get; }

    /// <summary>The source conditioning, as the prompt encoder of a pipeline.</summary>
    public SourcePromptEncoder Conditioning { get; }

    /// <summary>Frames to normalised latents and back.</summary>
    public PixelUnshuffleCodec Codec { get; }

    /// <summary>The sampling the model was trained for.</summary>
    public SmallVideoSampling Sampling { get; }

    /// <summary>The device of the weights.</summary>
    public Device Device => Transformer.Device;

    /// <summary>The dtype of the weights.</summary>
    public ScalarType WeightType => Transformer.WeightType;

    /// <summary>The number of parameters.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>
    /// Sets the weights of a model trained from scratch from a seed: Wan's initialisation for the
    /// transformer (<see cref="WanInitialisation"/>), standard-normal conditioning tokens, drawn on the CPU.
    /// </summary>
    public void Initialise(long seed)
    {
        using var generator = new Generator((ulong)seed);
        WanInitialisation.Apply(Transformer, generator);
        using var noGrad = no_grad();
        using var tokens = randn(Conditioning.Embedding.shape, generator: generator);
        Conditioning.Embedding.copy_(tokens);
    }

    /// <summary>Sets requires_grad on every parameter (off when built).</summary>
    public void RequireGradients(bool required)
    {
        foreach (var parameter in parameters()) parameter.requires_grad = required;
    }

    /// <summary>
    /// The predicted flow [B, C, F, H, W] float32 for normalised noisy latents, timesteps in [0, 1000] and the
    /// conditioning table entries to use (a source index, or <see cref="SourcePromptEncoder.NullIndex"/>),
    /// recording gradients: see <see cref="WanModel.ForwardWithGradients"/>.
    /// </summary>
    public Tensor PredictFlowWithGradients(Tensor latents, Tensor timesteps, Tensor entries)
    {
        using var context = Conditioning.Forward(entries);
        return Transformer.ForwardWithGradients(new WanInputs(latents, timesteps, context));
    }

    /// <summary>As <see cref="PredictFlowWithGradients"/> without gradients, in the transformer's own numerics and attention processor.</summary>
    public Tensor PredictFlow(Tensor latents, Tensor timesteps, Tensor entries)
    {
        using var noGrad = no_grad();
        using var context = Conditioning.Forward(entries);
        return Transformer.Forward(new WanInputs(latents, timesteps, context));
    }

    /// <summary>Copies every parameter from a model of the same configuration (any dtype or device).</summary>
    /// <exception cref="ArgumentException">The source's parameters differ in name or shape.</exception>
    public void CopyFrom(SmallVideoModel source)
    {
        using var noGrad = no_grad();
        var targets = named_parameters().ToList();
        var values = source.named_parameters().ToList();
        if (targets.Count != values.Count)
            throw new ArgumentException($"Cannot copy a model of {values.Count} parameters into one of {targets.Count}.");
        for (int i = 0; i < targets.Count; i++)
        {
            var (name, target) = targets[i];
            var (sourceName, value) = values[i];
            if (name != sourceName || !target.shape.SequenceEqual(value.shape))
                throw new ArgumentException($"Cannot copy parameter '{sourceName}' [{string.Join(", ", value.shape)}] into '{name}' [{string.Join(", ", target.shape)}].");
            target.copy_(value);
        }
    }
}
