using Svg2.Models.Checkpoints;
using Svg2.Models.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// The Wan 2.1 video VAE (causal 3D convolutions): video [B, 3, F, H, W] in [-1, 1] to normalised latents
/// [B, 16, (F - 1) / 4 + 1, H / 8, W / 8] and back, as the public Wan 2.1 code defines it, with module
/// names equal to the official Wan2.1_VAE.pth keys (encoder.*, conv1, conv2, decoder.*).
/// </summary>
/// <remarks>
/// <para>Like the public code, the encoder runs on the first frame, then on chunks of 4 frames, and the
/// decoder on one latent frame at a time; each causal layer keeps the last frames of its input in a
/// <see cref="CausalCache"/> (made fresh per call) so that the chunks give what the whole video would.
/// Every chunk runs in its own dispose scope and intermediates are freed as soon as they are used:
/// memory grows with one chunk's activations, not with the video's length. Decoded frames go straight
/// into the output, which is never concatenated.</para>
/// <para>Weights may be float32 (the public numerics) or bf16 (half the memory; activations in bf16), on
/// any device; inputs may live anywhere and are moved chunk by chunk. Note that libtorch, like PyTorch,
/// lets cuDNN run float32 convolutions in TF32 on Ampere and later GPUs unless
/// <c>torch.backends.cudnn.allow_tf32</c> is set to false (the public code runs that way too).</para>
/// <para>Inference only: parameters do not require gradients, and forwards run without autograd.</para>
/// </remarks>
public sealed class WanVae : nn.Module, IVideoLatentCodec
{
    /// <summary>The component name in checkpoint error messages.</summary>
    public const string ComponentName = "Wan VAE";

    readonly Tensor _mean;
    readonly Tensor _inverseStd;

    /// <summary>The configuration the model was built with.</summary>
    public WanVaeConfig Config { get; }

    internal VaeEncoder3d Encoder { get; }
    internal CausalConv3d QuantConv { get; }
    internal CausalConv3d PostQuantConv { get; }
    internal VaeDecoder3d Decoder { get; }

    /// <summary>Creates the VAE with random weights (replace them with <see cref="LoadWeights(ITensorSource)"/>).</summary>
    /// <param name="config">The architecture; <see cref="WanVaeConfig.Wan21"/> when null.</param>
    /// <param name="device">Where the weights live and the work runs (CPU when null).</param>
    /// <param name="dtype">Weights and activations: float32, bfloat16, or float64 (for checks).</param>
    /// <exception cref="ArgumentException">The configuration cannot work, or the dtype is not one of those.</exception>
    public WanVae(WanVaeConfig? config = null, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(WanVae))
    {
        config ??= WanVaeConfig.Wan21;
        config.Validate();
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float64))
            throw new ArgumentException($"The Wan VAE runs in float32, bfloat16 or float64; got {dtype}.", nameof(dtype));
        Config = config;
        Encoder = new VaeEncoder3d(config, device, dtype);
        QuantConv = CausalConv3d.Cubic(2 * config.ZDim, 2 * config.ZDim, 1, 0, device, dtype);
        PostQuantConv = CausalConv3d.Cubic(config.ZDim, config.ZDim, 1, 0, device, dtype);
        Decoder = new VaeDecoder3d(config, device, dtype);
        register_module("encoder", Encoder);
        register_module("conv1", QuantConv);
        register_module("conv2", PostQuantConv);
        register_module("decoder", Decoder);
        foreach (var parameter in parameters()) parameter.requires_grad = false;

        // The normalisation is not part of the checkpoint, so these are plain tensors, not buffers.
        using var mean = tensor(config.LatentMean.Select(v => (float)v).ToArray(), ScalarType.Float32, device);
        using var std = tensor(config.LatentStd.Select(v => (float)v).ToArray(), ScalarType.Float32, device);
        _mean = mean.view(1, -1, 1, 1, 1).DetachFromDisposeScope();
        _inverseStd = std.reciprocal().view(1, -1, 1, 1, 1).DetachFromDisposeScope();
    }

    /// <summary>The dtype of the weights and activations.</summary>
    public ScalarType WeightType => QuantConv.Weight.dtype;

    /// <summary>The device of the weights.</summary>
    public Device Device => QuantConv.Weight.device;

    /// <inheritdoc/>
    public int LatentChannels => Config.ZDim;

    /// <inheritdoc/>
    public int TemporalCompression => Config.TemporalCompression;

    /// <inheritdoc/>
    public int SpatialCompression => Config.SpatialCompression;

    /// <summary>
    /// The latent size of a video of <paramref name="frames"/> x <paramref name="height"/> x <paramref name="width"/>:
    /// ((F - 1) / 4 + 1, H / 8, W / 8) for Wan 2.1.
    /// </summary>
    /// <exception cref="ArgumentException">F is not 1 + 4n, or H or W is not a positive multiple of 8.</exception>
    public (long Frames, long Height, long Width) LatentSizeFor(long frames, long height, long width)
    {
        int t = TemporalCompression, s = SpatialCompression;
        if (frames < 1 || (frames - 1) % t != 0)
            throw new ArgumentException($"The Wan VAE takes 1 + {t}n frames (1, {1 + t}, {1 + 2 * t}, ..., {1 + 20 * t}); got {frames}.");
        if (height < s || width < s || height % s != 0 || width % s != 0)
            throw new ArgumentException($"The Wan VAE takes heights and widths that are positive multiples of {s}; got {height}x{width} (H x W). The Wan transformer further needs multiples of {2 * s}.");
        return ((frames - 1) / t + 1, height / s, width / s);
    }

    /// <summary>
    /// Encodes video [B, 3, F, H, W] (any floating type, any device, values in [-1, 1]) to normalised
    /// latents (mu - mean) / std, [B, 16, (F - 1) / 4 + 1, H / 8, W / 8], float32 on <see cref="Device"/>.
    /// The log-variance half of the encoder's output is dropped, as the public code does.
    /// </summary>
    /// <exception cref="ArgumentException">Wrong rank, channels, frame count, size or dtype.</exception>
    public Tensor Encode(Tensor video)
    {
        ValidateFloating(video, "video");
        if (video.dim() != 5 || video.shape[1] != 3)
            throw new ArgumentException($"The Wan VAE encodes video [B, 3, F, H, W]; got shape [{string.Join(", ", video.shape)}].", nameof(video));
        long frames = video.shape[2];
        LatentSizeFor(frames, video.shape[3], video.shape[4]);

        using var noGrad = no_grad();
        using var cache = new CausalCache();
        var chunks = new List<Tensor>();
        try
        {
            // The first frame alone, then chunks of TemporalCompression frames: each chunk makes one latent frame.
            for (long start = 0; start < frames; start += start == 0 ? 1 : TemporalCompression)
            {
                using var scope = NewDisposeScope();
                long length = start == 0 ? 1 : TemporalCompression;
                var chunk = video.narrow(2, start, length).to(WeightType, Device);
                chunks.Add(Encoder.Forward(chunk, cache).DetachFromDisposeScope());
            }
            using var outer = NewDisposeScope();
            var moments = QuantConv.Forward(cat(chunks, 2));
            var mu = moments.narrow(1, 0, Config.ZDim).to(ScalarType.Float32);
            return ((mu - _mean) * _inverseStd).MoveToOuterDisposeScope();
        }
        finally
        {
            foreach (var chunk in chunks) chunk.Dispose();
        }
    }

    /// <summary>
    /// Decodes normalised latents [B, 16, F', H', W'] (any floating type, any device) to video
    /// [B, 3, 1 + 4(F' - 1), 8H', 8W'], float32 on <see cref="Device"/>, clamped to [-1, 1] as the public code does.
    /// </summary>
    /// <exception cref="ArgumentException">Wrong rank, channels, empty size or dtype.</exception>
    public Tensor Decode(Tensor latents)
    {
        ValidateFloating(latents, "latents");
        if (latents.dim() != 5 || latents.shape[1] != Config.ZDim || latents.shape.Skip(2).Any(n => n < 1))
            throw new ArgumentException($"The Wan VAE decodes latents [B, {Config.ZDim}, F, H, W] with F, H, W >= 1; got shape [{string.Join(", ", latents.shape)}].", nameof(latents));
        long batch = latents.shape[0], frames = latents.shape[2];
        int s = SpatialCompression;

        using var noGrad = no_grad();
        Tensor x;
        using (var scope = NewDisposeScope())
        {
            // The public code divides by 1/std rather than multiplying by std; the same roundings here.
            var z = latents.to(ScalarType.Float32, Device) / _inverseStd + _mean;
            x = PostQuantConv.Forward(z.to(WeightType)).DetachFromDisposeScope();
        }
        using (x)
        {
            var video = empty([batch, 3, 1 + TemporalCompression * (frames - 1), s * latents.shape[3], s * latents.shape[4]], ScalarType.Float32, Device);
            try
            {
                using var cache = new CausalCache();
                long written = 0;
                for (long i = 0; i < frames; i++)
                {
                    using var scope = NewDisposeScope();
                    var decoded = Decoder.Forward(x.narrow(2, i, 1), cache).clamp_(-1, 1);
                    video.narrow(2, written, decoded.shape[2]).copy_(decoded);
                    written += decoded.shape[2];
                }
                return video;
            }
            catch
            {
                video.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Loads every parameter from <paramref name="source"/>, recognising its naming: the official
    /// Wan2.1_VAE.pth names or diffusers' AutoencoderKLWan names.
    /// </summary>
    /// <exception cref="CheckpointException">The source has neither naming, or a tensor is missing, mis-shaped or unused.</exception>
    public void LoadWeights(ITensorSource source)
    {
        WanVaeWeightNames names;
        if (source.Contains("decoder.conv1.weight")) names = WanVaeWeightNames.Official;
        else if (source.Contains("decoder.conv_in.weight")) names = WanVaeWeightNames.Diffusers;
        else throw new CheckpointException($"{ComponentName}: the checkpoint holds neither 'decoder.conv1.weight' (official names) nor 'decoder.conv_in.weight' (diffusers names); is it a Wan 2.1 VAE?");
        LoadWeights(source, names);
    }

    /// <summary>Loads every parameter from <paramref name="source"/>, whose tensors follow <paramref name="names"/>.</summary>
    /// <exception cref="CheckpointException">A tensor is missing, mis-shaped, not floating-point, or unused.</exception>
    public void LoadWeights(ITensorSource source, WanVaeWeightNames names) =>
        ParameterLoader.Load(this, source, ComponentName, names == WanVaeWeightNames.Diffusers ? WanVaeDiffusersNames.For(Config) : null);

    static void ValidateFloating(Tensor input, string name)
    {
        if (!input.is_floating_point())
            throw new ArgumentException($"The Wan VAE's {name} must be a floating-point tensor; got {input.dtype}.", name);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _mean.Dispose();
            _inverseStd.Dispose();
        }
        base.Dispose(disposing);
    }
}
