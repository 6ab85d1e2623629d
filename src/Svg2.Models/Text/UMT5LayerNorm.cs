using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>
/// T5's layer norm: RMS normalisation without mean or bias, the mean square taken in float32, then a
/// learned scale (checkpoint key "weight"). With a bf16 or f16 scale the normalised values are rounded
/// to its dtype before the scale is applied, as wan/modules/t5.py and transformers' T5LayerNorm do.
/// </summary>
public sealed class UMT5LayerNorm : UMT5WeightModule
{
    readonly double _eps;

    /// <summary>Creates the norm with a unit scale.</summary>
    public UMT5LayerNorm(long dim, double eps, Device? device, ScalarType dtype)
        : base(nameof(UMT5LayerNorm), ones(dim, dtype: dtype, device: device))
    {
        _eps = eps;
    }

    /// <summary>Normalises x [.., dim]; returns the scale's dtype when it is bf16 or f16, float32 otherwise.</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var meanSquare = x.to(ScalarType.Float32).pow(2).mean([-1], keepdim: true);
        // x (bf16) times a float32 factor promotes to float32, as in the reference.
        var normalised = x * rsqrt(meanSquare + _eps);
        if (Weight.dtype is ScalarType.BFloat16 or ScalarType.Float16) normalised = normalised.to(Weight.dtype);
        return (Weight * normalised).MoveToOuterDisposeScope();
    }
}
