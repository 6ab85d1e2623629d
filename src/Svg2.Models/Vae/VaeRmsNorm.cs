using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// The VAE's RMS normalisation over channels (dimension 1): x / max(||x||, 1e-12) x sqrt(C) x gamma
/// (+ bias), that is x / rms(x) without an epsilon inside the root, as the public <c>RMS_norm</c>
/// computes it with F.normalize. Parameter "gamma" is [C, 1, 1, 1] for video features and [C, 1, 1]
/// for per-frame (image) features, as in the checkpoint; either applies to [B, C, T, H, W].
/// </summary>
public sealed class VaeRmsNorm : nn.Module
{
    readonly double _scale;

    /// <summary>The learned per-channel scale.</summary>
    public Parameter Gamma { get; }

    /// <summary>The learned per-channel shift, or null (Wan 2.1 has none).</summary>
    public Parameter? Bias { get; }

    /// <summary>Creates the norm with a unit scale (and a zero shift when <paramref name="bias"/>).</summary>
    /// <param name="channels">Channels normalised together.</param>
    /// <param name="images">True for the checkpoint shape [C, 1, 1] of per-frame features, false for [C, 1, 1, 1].</param>
    /// <param name="bias">Whether the norm has a learned shift ("bias", same shape as gamma).</param>
    /// <param name="device">Where the parameters live.</param>
    /// <param name="dtype">The parameters' type.</param>
    public VaeRmsNorm(long channels, bool images, bool bias, Device? device, ScalarType dtype) : base(nameof(VaeRmsNorm))
    {
        _scale = Math.Sqrt(channels);
        long[] shape = images ? [channels, 1, 1] : [channels, 1, 1, 1];
        Gamma = new Parameter(ones(shape, dtype, device), requires_grad: false);
        register_parameter("gamma", Gamma);
        if (bias)
        {
            Bias = new Parameter(zeros(shape, dtype, device), requires_grad: false);
            register_parameter("bias", Bias);
        }
    }

    /// <summary>
    /// Normalises [B, C, T, H, W], then applies SiLU when <paramref name="silu"/>; returns a new tensor of
    /// x's dtype. float32 and float64 compute in their own type, as the public code does; bf16 computes
    /// in float32 and rounds once at the end, as under the public code's bf16 autocast, where norms run
    /// in float32 and their output is rounded when it enters the next convolution.
    /// </summary>
    public Tensor Forward(Tensor x, bool silu = false)
    {
        using var scope = NewDisposeScope();
        var work = x.dtype == ScalarType.BFloat16 ? x.to(ScalarType.Float32) : x;
        var normalised = nn.functional.normalize(work, p: 2, dim: 1);
        if (!ReferenceEquals(work, x)) work.Dispose();
        normalised.mul_(PerChannel(Gamma, x.dim()).to(normalised.dtype) * _scale);
        if (Bias is not null) normalised.add_(PerChannel(Bias, x.dim()).to(normalised.dtype));
        if (silu) normalised.silu_();
        return normalised.to(x.dtype).MoveToOuterDisposeScope();
    }

    // [C, 1, 1] or [C, 1, 1, 1] as [C, 1, ..., 1] for an input of `dims` dimensions.
    static Tensor PerChannel(Tensor parameter, long dims)
    {
        var shape = new long[dims - 1];
        Array.Fill(shape, 1L);
        shape[0] = parameter.shape[0];
        return parameter.view(shape);
    }
}
