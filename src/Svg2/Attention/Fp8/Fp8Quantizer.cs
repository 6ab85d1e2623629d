using static TorchSharp.torch;

namespace Svg2.Attention.Fp8;

/// <summary>
/// Absmax quantisation to FP8 E4M3. A group of elements with largest magnitude a gets the float32
/// dequantisation scale <c>a / 448</c> and is stored as <c>e4m3(x * (448 / a))</c>: one float32 division
/// per group, one float32 multiplication and the saturating rounding of <see cref="E4M3"/> per element,
/// so the largest element lands on ±448. An all-zero group (a zero-padded channel) gets scale 1; a group
/// holding NaN or infinity gets a NaN or zero scale and its values propagate as such.
/// </summary>
public static class Fp8Quantizer
{
    /// <summary>
    /// Quantises [G, N, D] with one scale per tile of <paramref name="tileRows"/> consecutive rows (the
    /// last tile may be shorter); <paramref name="tileRows"/> ≥ N gives one scale per group.
    /// </summary>
    public static Fp8Quantized RowTiles(Tensor x, long tileRows)
    {
        RequireGrouped(x);
        if (tileRows < 1) throw new ArgumentException($"A row tile holds at least 1 row; got {tileRows}.", nameof(tileRows));
        using var scope = NewDisposeScope();
        long groups = x.shape[0], rows = x.shape[1], width = x.shape[2];
        long tile = Math.Min(tileRows, rows), tiles = (rows + tile - 1) / tile;
        var magnitude = x.to(ScalarType.Float32).abs();
        if (tiles * tile != rows) magnitude = nn.functional.pad(magnitude, [0, 0, 0, tiles * tile - rows]);
        var amax = magnitude.view(groups, tiles, tile * width).amax([2]);
        var expand = (Tensor s) => s.repeat_interleave(tile, 1).narrow(1, 0, rows).unsqueeze(2);
        var (inverse, descale) = Scales(amax);
        return Quantize(x, expand(inverse), expand(descale)).MoveToOuterDisposeScope();
    }

    /// <summary>Quantises [G, N, D] with one scale per group and channel (over the N rows).</summary>
    public static Fp8Quantized Channels(Tensor x)
    {
        RequireGrouped(x);
        using var scope = NewDisposeScope();
        var amax = x.to(ScalarType.Float32).abs().amax([1], keepdim: true);
        var (inverse, descale) = Scales(amax);
        return Quantize(x, inverse, descale).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The quantisation and dequantisation scales (448 / a, a / 448) of groups with absolute maxima
    /// <paramref name="amax"/> (float32), and (1, 1) where a is 0: what a kernel that quantises must multiply by.
    /// </summary>
    public static (Tensor Inverse, Tensor Descale) Scales(Tensor amax)
    {
        // Tensor by tensor: correctly rounded divisions (a division by a scalar may be a multiplication by its reciprocal).
        var zero = amax.eq(0);
        var one = ones_like(amax);
        var max = full_like(amax, E4M3.Max);
        return (where(zero, one, max / amax), where(zero, one, amax / max));
    }

    static Fp8Quantized Quantize(Tensor x, Tensor inverse, Tensor descale) =>
        new(E4M3.Encode(x.to(ScalarType.Float32) * inverse), descale.contiguous());

    static void RequireGrouped(Tensor x)
    {
        if (x.dim() != 3) throw new ArgumentException($"Expected [G, N, D]; got [{string.Join(", ", x.shape)}].", nameof(x));
    }
}
