using static TorchSharp.torch;

namespace Svg2.Attention.Fp8;

/// <summary>
/// The FP8 E4M3 format of FP8 tensor cores ("e4m3fn": 1 sign, 4 exponent bits of bias 7, 3 mantissa bits,
/// no infinities, one NaN pattern S.1111.111): normal values 2^-6 to 448, subnormals of step 2^-9.
/// Rounding is libtorch's own conversion to <c>Float8_e4m3fn</c>, round to nearest, ties to even,
/// after a saturation to ±448.
/// </summary>
/// <remarks>
/// Saturation policy (that of <c>cvt.rn.satfinite.e4m3x2.f32</c>): a finite value beyond ±448 and an
/// infinity become ±448, NaN stays NaN. libtorch's conversion alone would turn |x| ≥ 464 into NaN.
/// TorchSharp 0.107 has no name for the type; libtorch's type number 24 (<c>c10::ScalarType::Float8_e4m3fn</c>)
/// passes through its casts to libtorch, which converts it on the CPU (checked here against the format's table) and on CUDA.
/// </remarks>
public static class E4M3
{
    /// <summary>libtorch's Float8_e4m3fn type, one byte per element.</summary>
    public const ScalarType Type = (ScalarType)24;

    /// <summary>The largest finite value.</summary>
    public const float Max = 448f;

    /// <summary>The smallest positive normal value, 2^-6.</summary>
    public const float MinNormal = 1f / 64;

    /// <summary>The smallest positive subnormal value, 2^-9: the spacing of the subnormals.</summary>
    public const float MinSubnormal = 1f / 512;

    /// <summary>
    /// <paramref name="x"/> (any floating dtype) saturated to ±448 and converted to Float8_e4m3fn (same shape and device).
    /// </summary>
    public static Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        return x.to(ScalarType.Float32).clamp(-Max, Max).to(Type).MoveToOuterDisposeScope();
    }

    /// <summary>Float8_e4m3fn values as float32 (exact).</summary>
    public static Tensor Decode(Tensor encoded)
    {
        if (encoded.dtype != Type) throw new ArgumentException($"Expected a Float8_e4m3fn tensor; got {encoded.dtype}.", nameof(encoded));
        return encoded.to(ScalarType.Float32);
    }

    /// <summary><paramref name="x"/> rounded to the nearest E4M3 value with saturation, as float32.</summary>
    public static Tensor Round(Tensor x)
    {
        using var encoded = Encode(x);
        return encoded.to(ScalarType.Float32);
    }
}
