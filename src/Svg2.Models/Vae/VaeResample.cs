using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// Spatial up- or downsampling by 2, per frame, optionally with a causal resampling in time. The video's
/// first frame is never resampled in time, so F frames map to 1 + 2(F - 1) or 1 + (F - 1) / 2.
/// Checkpoint names of the public <c>Resample</c>: resample.1.weight/bias (the per-frame 3x3
/// convolution; position 0 holds the parameterless upsampling or zero padding) and
/// time_conv.weight/bias (3x1x1) for the 3D modes.
/// </summary>
/// <remarks>
/// Upsampling in time: a causal convolution to twice the channels whose two halves become two
/// consecutive frames; it runs over the frames after the first, with zeros before them. Downsampling in
/// time runs after the spatial step: output frame k &gt; 0 is a stride-2 convolution over input frames
/// 2k - 2, 2k - 1 and 2k, so a chunk after the first must bring an even number of frames.
/// </remarks>
public sealed class VaeResample : CausalLayer
{
    /// <summary>What this layer does.</summary>
    public VaeResampleMode Mode { get; }

    internal Conv2d Spatial { get; }
    internal CausalConv3d? TimeConv { get; }

    /// <summary>Creates the layer over <paramref name="channels"/> input channels.</summary>
    public VaeResample(long channels, VaeResampleMode mode, Device? device, ScalarType dtype) : base(nameof(VaeResample))
    {
        Mode = mode;
        bool up = mode is VaeResampleMode.Upsample2d or VaeResampleMode.Upsample3d;
        Spatial = up
            ? nn.Conv2d(channels, channels / 2, 3, padding: 1, device: device, dtype: dtype)
            : nn.Conv2d(channels, channels, 3, stride: 2, device: device, dtype: dtype);
        register_module("resample", new SequentialPositions((1, Spatial)));
        TimeConv = mode switch
        {
            VaeResampleMode.Upsample3d => new CausalConv3d(channels, 2 * channels, (3, 1, 1), (1, 1, 1), (1, 0, 0), device, dtype),
            VaeResampleMode.Downsample3d => new CausalConv3d(channels, channels, (3, 1, 1), (2, 1, 1), (0, 0, 0), device, dtype),
            _ => null,
        };
        if (TimeConv is not null) register_module("time_conv", TimeConv);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, CausalCache cache) =>
        Mode is VaeResampleMode.Upsample2d or VaeResampleMode.Upsample3d ? Upsample(x, cache) : Downsample(x, cache);

    Tensor Upsample(Tensor x, CausalCache cache)
    {
        using var doubled = Mode == VaeResampleMode.Upsample3d ? DoubleFrames(x, cache) : null;
        var source = doubled ?? x;
        long batch = source.shape[0], channels = source.shape[1], frames = source.shape[2], height = source.shape[3], width = source.shape[4];
        // Nearest-neighbour upsampling by an integer factor repeats each pixel: one strided copy.
        using var wide = source.unsqueeze(4).unsqueeze(6).expand(batch, channels, frames, height, 2, width, 2);
        using var upsampled = wide.reshape(batch, channels, frames, 2 * height, 2 * width);
        using var weight = Spatial.weight!.unsqueeze(2);
        return VaeConvolution.Conv3d(upsampled, weight, Spatial.bias, [1, 1, 1], [0, 1, 1]);
    }

    // The frames after the stream's first, each made two; null when the chunk is that first frame alone.
    Tensor? DoubleFrames(Tensor x, CausalCache cache)
    {
        if (!cache.Start(this)) return Interleave(TimeConv!.Forward(x, cache));
        long frames = x.shape[2];
        if (frames == 1) return null;
        using var first = x.narrow(2, 0, 1);
        using var rest = x.narrow(2, 1, frames - 1);
        using var doubledRest = Interleave(TimeConv!.Forward(rest, cache));
        return cat([first, doubledRest], 2);
    }

    // [B, 2C, T, H, W] to [B, C, 2T, H, W]: output frame 2t is the first half of the channels at t, 2t + 1 the second.
    static Tensor Interleave(Tensor y)
    {
        using (y)
        {
            long batch = y.shape[0], channels = y.shape[1] / 2, frames = y.shape[2], height = y.shape[3], width = y.shape[4];
            using var split = y.view(batch, 2, channels, frames, height, width);
            using var interleaved = split.permute(0, 2, 3, 1, 4, 5);
            return interleaved.reshape(batch, channels, 2 * frames, height, width);
        }
    }

    Tensor Downsample(Tensor x, CausalCache cache)
    {
        Tensor spatial;
        // Zero padding on the right and bottom only, then a stride-2 3x3 convolution.
        using (var padded = nn.functional.pad(x, [0, 1, 0, 1]))
        using (var weight = Spatial.weight!.unsqueeze(2))
            spatial = VaeConvolution.Conv3d(padded, weight, Spatial.bias, [1, 2, 2], [0, 0, 0]);
        return Mode == VaeResampleMode.Downsample3d ? HalveFrames(spatial, cache) : spatial;
    }

    // Takes ownership of y [B, C, T, H, W].
    Tensor HalveFrames(Tensor y, CausalCache cache)
    {
        long frames = y.shape[2];
        var past = cache.Frames(this);
        long paired = past is null ? frames - 1 : frames;
        if (paired % 2 != 0)
        {
            y.Dispose();
            throw new InvalidOperationException(
                $"Temporal downsampling takes a video's first frame alone and then an even number of frames per chunk; this chunk brings {paired} after that.");
        }
        Tensor result;
        if (past is null && frames == 1)
        {
            result = y.alias();
        }
        else if (past is null)
        {
            using var first = y.narrow(2, 0, 1);
            using var rest = TimeConv!.Forward(y);
            result = cat([first, rest], 2);
        }
        else
        {
            using var input = cat([past, y], 2);
            result = TimeConv!.Forward(input);
        }
        using (var last = y.narrow(2, frames - 1, 1)) cache.Keep(this, last.clone());
        y.Dispose();
        return result;
    }
}
