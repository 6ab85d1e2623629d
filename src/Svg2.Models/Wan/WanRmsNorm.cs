using TorchSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// RMS normalisation over the last dimension with a learned scale (checkpoint key "weight"). Wan applies
/// it to q and k across the full width, all heads together, before splitting into heads.
/// </summary>
public sealed class WanRmsNorm : nn.Module
{
    readonly double _eps;

    /// <summary>Added to the mean square before the root.</summary>
    public double Eps => _eps;

    /// <summary>The learned scale, [dim].</summary>
    public Parameter Weight { get; }

    /// <summary>Creates the norm with a unit scale.</summary>
    public WanRmsNorm(long dim, double eps, Device? device = null, ScalarType? dtype = null) : base(nameof(WanRmsNorm))
    {
        _eps = eps;
        Weight = new Parameter(ones(dim, dtype: dtype ?? ScalarType.Float32, device: device));
        register_parameter("weight", Weight);
    }

    /// <summary>
    /// Normalises in float32, rounds to the input's dtype, then scales in float32, returning float32:
    /// the same order of roundings as the reference with a bf16 input.
    /// </summary>
    public Tensor Forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.to(ScalarType.Float32);
        var normalised = (x * rsqrt(x.pow(2).mean([-1], keepdim: true) + _eps)).to(input.dtype);
        return (normalised.to(ScalarType.Float32) * Weight.to(ScalarType.Float32)).MoveToOuterDisposeScope();
    }
}
