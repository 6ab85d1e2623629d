using Svg2.Models.Vae;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace Svg2.Tests.Vae;

/// <summary>
/// The Wan VAE on a whole video at once, in float64, written from the public code's definition and
/// independently of the chunked model: every causal convolution sees the whole sequence with zeros
/// before the first frame, per-frame layers run on [(B T), C, H, W] with 2D convolutions, attention is
/// an explicit softmax, and parameters are looked up by their official names.
/// </summary>
/// <remarks>
/// What chunking with caches must reproduce: temporal upsampling leaves the video's first frame alone
/// and turns each later frame into two, its convolution running over the later frames only with zeros
/// before them (the public code's 'Rep' marker); temporal downsampling keeps the first frame and maps
/// frames 2k - 2, 2k - 1, 2k to output frame k.
/// </remarks>
sealed class VaeReference
{
    readonly Dictionary<string, Tensor> _parameters;
    readonly WanVaeConfig _config;

    public VaeReference(WanVae model)
    {
        _config = model.Config;
        _parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.to(ScalarType.Float64));
    }

    Tensor P(string name) => _parameters.TryGetValue(name, out var value) ? value : throw new KeyNotFoundException($"The model has no parameter '{name}'.");

    /// <summary>Normalised latents (mu - mean) / std of a whole video.</summary>
    public Tensor Encode(Tensor video)
    {
        var moments = Conv(Encoder(video.to(ScalarType.Float64)), "conv1", 0, 0);
        var mu = moments.narrow(1, 0, _config.ZDim);
        return (mu - PerChannel(_config.LatentMean)) / PerChannel(_config.LatentStd);
    }

    /// <summary>The video of whole normalised latents, clamped to [-1, 1].</summary>
    public Tensor Decode(Tensor latents)
    {
        var z = latents.to(ScalarType.Float64) * PerChannel(_config.LatentStd) + PerChannel(_config.LatentMean);
        return Decoder(Conv(z, "conv2", 0, 0)).clamp(-1, 1);
    }

    /// <summary>The encoder's output [B, 2 ZDim, T', H', W'] before the quant convolution.</summary>
    public Tensor Encoder(Tensor x)
    {
        x = Conv(x, "encoder.conv1", 1, 1);
        int index = 0, stages = _config.DimMult.Count;
        for (int stage = 0; stage < stages; stage++)
        {
            for (int block = 0; block < _config.NumResBlocks; block++) x = Residual(x, $"encoder.downsamples.{index++}");
            if (stage < stages - 1)
                x = Resample(x, $"encoder.downsamples.{index++}", _config.TemporalDownsample[stage] ? VaeResampleMode.Downsample3d : VaeResampleMode.Downsample2d);
        }
        return Head(Middle(x, "encoder.middle"), "encoder.head");
    }

    /// <summary>The decoder's output [B, 3, T', H', W'] (not clamped) after the post-quant convolution.</summary>
    public Tensor Decoder(Tensor x)
    {
        x = Middle(Conv(x, "decoder.conv1", 1, 1), "decoder.middle");
        var temporal = _config.TemporalDownsample.Reverse().ToArray();
        int index = 0, stages = _config.DimMult.Count;
        for (int stage = 0; stage < stages; stage++)
        {
            for (int block = 0; block <= _config.NumResBlocks; block++) x = Residual(x, $"decoder.upsamples.{index++}");
            if (stage < stages - 1)
                x = Resample(x, $"decoder.upsamples.{index++}", temporal[stage] ? VaeResampleMode.Upsample3d : VaeResampleMode.Upsample2d);
        }
        return Head(x, "decoder.head");
    }

    Tensor PerChannel(IReadOnlyList<double> values) => tensor(values.ToArray(), ScalarType.Float64).view(1, -1, 1, 1, 1);

    // The public CausalConv3d: 2 x padT zero frames in front, none behind, padS on each side in space.
    Tensor Conv(Tensor x, string name, long padT, long padS, long strideT = 1) =>
        conv3d(pad(x, [padS, padS, padS, padS, 2 * padT, 0]), P(name + ".weight"), P(name + ".bias"), strides: [strideT, 1, 1]);

    // The public RMS_norm over channels: F.normalize, times sqrt(C) and gamma.
    static Tensor Norm(Tensor x, Tensor gamma)
    {
        var shape = Enumerable.Repeat(1L, (int)x.dim() - 1).ToArray();
        shape[0] = x.shape[1];
        var length = x.pow(2).sum(1, keepdim: true).sqrt().clamp_min(1e-12);
        return x / length * Math.Sqrt(x.shape[1]) * gamma.reshape(shape);
    }

    Tensor Residual(Tensor x, string name)
    {
        var shortcut = _parameters.ContainsKey(name + ".shortcut.weight") ? Conv(x, name + ".shortcut", 0, 0) : x;
        var h = Conv(silu(Norm(x, P(name + ".residual.0.gamma"))), name + ".residual.2", 1, 1);
        h = Conv(silu(Norm(h, P(name + ".residual.3.gamma"))), name + ".residual.6", 1, 1);
        return h + shortcut;
    }

    Tensor Middle(Tensor x, string name) =>
        Residual(Attention(Residual(x, name + ".0"), name + ".1"), name + ".2");

    Tensor Head(Tensor x, string name) => Conv(silu(Norm(x, P(name + ".0.gamma"))), name + ".2", 1, 1);

    static Tensor ToFrames(Tensor x) => x.permute(0, 2, 1, 3, 4).reshape(x.shape[0] * x.shape[2], x.shape[1], x.shape[3], x.shape[4]);

    static Tensor FromFrames(Tensor frames, long batch) =>
        frames.reshape(batch, frames.shape[0] / batch, frames.shape[1], frames.shape[2], frames.shape[3]).permute(0, 2, 1, 3, 4);

    Tensor Attention(Tensor x, string name)
    {
        long batch = x.shape[0], channels = x.shape[1], height = x.shape[3], width = x.shape[4];
        var frames = Norm(ToFrames(x), P(name + ".norm.gamma"));
        var qkv = conv2d(frames, P(name + ".to_qkv.weight"), P(name + ".to_qkv.bias"))
            .reshape(frames.shape[0], 3 * channels, height * width).transpose(1, 2);
        var (q, k, v) = (qkv.narrow(2, 0, channels), qkv.narrow(2, channels, channels), qkv.narrow(2, 2 * channels, channels));
        var attended = softmax(q.bmm(k.transpose(1, 2)) / Math.Sqrt(channels), -1).bmm(v);
        var output = conv2d(attended.transpose(1, 2).reshape(frames.shape[0], channels, height, width), P(name + ".proj.weight"), P(name + ".proj.bias"));
        return FromFrames(output, batch) + x;
    }

    Tensor Resample(Tensor x, string name, VaeResampleMode mode)
    {
        long batch = x.shape[0], channels = x.shape[1], frames = x.shape[2], height = x.shape[3], width = x.shape[4];
        if (mode == VaeResampleMode.Upsample3d && frames > 1)
        {
            var doubled = Conv(x.narrow(2, 1, frames - 1), name + ".time_conv", 1, 0).reshape(batch, 2, channels, frames - 1, height, width);
            var interleaved = stack([doubled.select(1, 0), doubled.select(1, 1)], 3).reshape(batch, channels, 2 * (frames - 1), height, width);
            x = cat([x.narrow(2, 0, 1), interleaved], 2);
        }
        var perFrame = ToFrames(x);
        perFrame = mode is VaeResampleMode.Upsample2d or VaeResampleMode.Upsample3d
            ? conv2d(perFrame.repeat_interleave(2, 2).repeat_interleave(2, 3), P(name + ".resample.1.weight"), P(name + ".resample.1.bias"), padding: [1, 1])
            : conv2d(pad(perFrame, [0, 1, 0, 1]), P(name + ".resample.1.weight"), P(name + ".resample.1.bias"), strides: [2, 2]);
        var y = FromFrames(perFrame, batch);
        if (mode == VaeResampleMode.Downsample3d && y.shape[2] > 1)
            y = cat([y.narrow(2, 0, 1), Conv(y, name + ".time_conv", 0, 0, strideT: 2)], 2);
        return y;
    }
}
