using Svg2.Positional;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// Wan's 3D rotary position embedding. The head dimension is read as D/2 complex pairs (elements 2j and
/// 2j+1); the pairs are split between frame, row and column positions as D/2 - 2 floor(D/6), floor(D/6)
/// and floor(D/6) pairs (for D = 128: 22, 21, 21), each segment with its own frequencies
/// theta^(-2j/width) over its width in real dimensions (44, 42, 42), theta = 10000.
/// </summary>
public sealed class WanRotaryEmbedding : IDisposable
{
    const double Theta = 10000;

    /// <summary>cos of the rotation angle, [S, D/2] float32.</summary>
    public Tensor Cos { get; }

    /// <summary>sin of the rotation angle, [S, D/2] float32.</summary>
    public Tensor Sin { get; }

    /// <summary>cos of each real dimension's angle (a pair's for both its elements), [S, D] float32.</summary>
    public Tensor CosPairs { get; }

    /// <summary>-sin for the first element of each pair and +sin for the second, [S, D] float32 (see <see cref="RotatePairs"/>).</summary>
    public Tensor SinPairs { get; }

    /// <summary>The grid the tables were built for.</summary>
    public LatentGrid Grid { get; }

    /// <summary>Builds the tables for a grid and head width, in float64 then rounded to float32.</summary>
    public WanRotaryEmbedding(LatentGrid grid, int headDim, Device device)
    {
        if (headDim % 2 != 0 || headDim < 6) throw new ArgumentException($"Head width {headDim} must be even and at least 6.");
        Grid = grid;
        using var scope = NewDisposeScope();
        // The same angle table as the workload generator's: one implementation of Wan's 3D RoPE.
        var angles = new Rope3D(headDim, Theta).Angles(grid.Frames, grid.Height, grid.Width);
        // The tables belong to this object (a model keeps it across forwards), not to a caller's scope.
        Cos = angles.cos().to(ScalarType.Float32, device).DetachFromDisposeScope();
        Sin = angles.sin().to(ScalarType.Float32, device).DetachFromDisposeScope();
        var (cosPairs, sinPairs) = PairTables(Cos, Sin);
        CosPairs = cosPairs.DetachFromDisposeScope();
        SinPairs = sinPairs.DetachFromDisposeScope();
    }

    /// <summary>Rotates x, [B, S, H, D], in float32; returns float32 of the same shape.</summary>
    public Tensor Apply(Tensor x)
    {
        if (x.shape.Length != 4 || x.shape[1] != Grid.Tokens || x.shape[3] != Cos.shape[1] * 2)
            throw new ArgumentException($"Rotary embedding for {Grid.Tokens} tokens and head width {Cos.shape[1] * 2} cannot apply to [{string.Join(", ", x.shape)}].");
        return RotatePairs(x, CosPairs, SinPairs);
    }

    /// <summary>
    /// Rotates the interleaved pairs (2j, 2j+1) of x, [B, S, H, D], by the angles whose cosines and sines
    /// are <paramref name="cos"/> and <paramref name="sin"/>, [S, D/2]; in float32, returns float32.
    /// </summary>
    public static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var (cosPairs, sinPairs) = PairTables(cos, sin);
        return RotatePairs(x, cosPairs, sinPairs).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rotates the interleaved pairs of x, [B, S, H, D], with the tables of <see cref="PairTables"/>: x cos + x' s',
    /// where x' swaps each pair's elements and s' is (-sin, +sin). Every operation runs over contiguous rows (the
    /// per-element form on the pairs' strided halves ran unvectorised, forward and backward). The result is the
    /// rotation's (a c - b s, a s + b c) exactly: negating a product and reordering an addition round alike.
    /// </summary>
    public static Tensor RotatePairs(Tensor x, Tensor cosPairs, Tensor sinPairs)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], tokens = x.shape[1], heads = x.shape[2], width = x.shape[3];
        var rows = x.to(ScalarType.Float32);
        var swapped = rows.view(batch, tokens, heads, width / 2, 2).flip(-1).view(batch, tokens, heads, width);
        return (rows * cosPairs.view(1, tokens, 1, width) + swapped * sinPairs.view(1, tokens, 1, width)).MoveToOuterDisposeScope();
    }

    /// <summary>The [S, D] tables of <see cref="RotatePairs"/> from the [S, D/2] cosines and sines.</summary>
    public static (Tensor CosPairs, Tensor SinPairs) PairTables(Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var cosPairs = stack([cos, cos], -1).flatten(-2);
        var sinPairs = stack([sin.neg(), sin], -1).flatten(-2);
        return (cosPairs.MoveToOuterDisposeScope(), sinPairs.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Cos.Dispose();
        Sin.Dispose();
        CosPairs.Dispose();
        SinPairs.Dispose();
    }
}
