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

    /// <summary>Normalises [B, C, T, H, W] in its own dtype and returns a new tensor.</summary>
    public Tensor Forward(Tensor x)
    {
        var normalised = nn.functional.normalize(x, p: 2, dim: 1);
        using var gamma = PerChannel(Gamma, x.dim());
        using var scale = gamma * _scale;
        normalised.mul_(scale);
        if (Bias is not null)
        {
            using var shift = PerChannel(Bias, x.dim());
            normalised.add_(shift);
        }
        return normalised;
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
