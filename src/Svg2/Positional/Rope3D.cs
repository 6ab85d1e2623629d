using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Positional;

/// <summary>
/// Three-dimensional rotary position embedding over a (frames, height, width) token grid, laid out
/// as Wan 2.1 lays it out: the head dimension is read as D/2 complex pairs of interleaved values
/// (x[2p], x[2p+1]); the first pairs rotate with the frame index, the next with the row, the last
/// with the column. With c = D/2, the split is (c - 2*(c/3), c/3, c/3) pairs (for D = 128: 22, 21,
/// 21), and pair j of an axis with n pairs turns by position * theta^(-j/n).
/// </summary>
/// <remarks>
/// Tokens are ordered frame-major (t, h, w). Rows after the F*H*W video rows (text) are left as they
/// are. Angles and rotation are computed in float64, the result is returned in the input's dtype.
/// </remarks>
public sealed class Rope3D
{
    /// <summary>Which grid axis rotates a pair.</summary>
    public enum Axis
    {
        /// <summary>The frame index.</summary>
        Time,

        /// <summary>The row within a frame.</summary>
        Height,

        /// <summary>The column within a frame.</summary>
        Width,
    }

    /// <summary>Creates the embedding for one head dimension.</summary>
    /// <param name="headDim">Head dimension D; even, at least 6 so every axis gets a pair.</param>
    /// <param name="theta">Frequency base (10000 in Wan).</param>
    public Rope3D(int headDim, double theta = 10000.0)
    {
        if (headDim < 6 || headDim % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "3D RoPE needs an even head dimension of at least 6.");
        if (!(theta > 1.0))
            throw new ArgumentOutOfRangeException(nameof(theta), theta, "The RoPE frequency base must be greater than 1.");
        HeadDim = headDim;
        Theta = theta;
        var pairs = headDim / 2;
        HeightPairs = pairs / 3;
        WidthPairs = pairs / 3;
        TemporalPairs = pairs - HeightPairs - WidthPairs;
    }

    /// <summary>Head dimension D.</summary>
    public int HeadDim { get; }

    /// <summary>Frequency base.</summary>
    public double Theta { get; }

    /// <summary>Number of complex pairs D/2.</summary>
    public int Pairs => HeadDim / 2;

    /// <summary>Pairs that rotate with the frame index (the first ones).</summary>
    public int TemporalPairs { get; }

    /// <summary>Pairs that rotate with the row (after the temporal ones).</summary>
    public int HeightPairs { get; }

    /// <summary>Pairs that rotate with the column (the last ones).</summary>
    public int WidthPairs { get; }

    /// <summary>The axis that rotates pair <paramref name="pair"/>.</summary>
    public Axis AxisOf(int pair)
    {
        if (pair < 0 || pair >= Pairs)
            throw new ArgumentOutOfRangeException(nameof(pair), pair, $"Pair index must be in [0, {Pairs}).");
        if (pair < TemporalPairs) return Axis.Time;
        return pair < TemporalPairs + HeightPairs ? Axis.Height : Axis.Width;
    }

    /// <summary>Radians per grid step along its axis for pair <paramref name="pair"/>.</summary>
    public double AngularFrequency(int pair)
    {
        var (index, count) = AxisOf(pair) switch
        {
            Axis.Time => (pair, TemporalPairs),
            Axis.Height => (pair - TemporalPairs, HeightPairs),
            _ => (pair - TemporalPairs - HeightPairs, WidthPairs),
        };
        return Math.Pow(Theta, -(double)index / count);
    }

    /// <summary>Rotation angles of every video token and pair: float64 [F*H*W, D/2], tokens frame-major.</summary>
    public Tensor Angles(int frames, int height, int width)
    {
        ValidateGrid(frames, height, width);
        using var scope = NewDisposeScope();
        var frequencies = tensor(Enumerable.Range(0, Pairs).Select(AngularFrequency).ToArray(), dtype: ScalarType.Float64);
        var time = AxisAngles(frames, frequencies.narrow(0, 0, TemporalPairs)).view(frames, 1, 1, TemporalPairs)
            .expand(frames, height, width, TemporalPairs);
        var rows = AxisAngles(height, frequencies.narrow(0, TemporalPairs, HeightPairs)).view(1, height, 1, HeightPairs)
            .expand(frames, height, width, HeightPairs);
        var columns = AxisAngles(width, frequencies.narrow(0, TemporalPairs + HeightPairs, WidthPairs)).view(1, 1, width, WidthPairs)
            .expand(frames, height, width, WidthPairs);
        return cat([time, rows, columns], 3).reshape((long)frames * height * width, Pairs).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rotates the first F*H*W rows of <paramref name="x"/> [B, heads, S, D] by their grid positions;
    /// later rows pass through unchanged.
    /// </summary>
    public Tensor Apply(Tensor x, int frames, int height, int width)
    {
        ValidateGrid(frames, height, width);
        if (x.dim() != 4)
            throw new ArgumentException($"RoPE input must be [B, heads, S, D]; got shape [{string.Join(", ", x.shape)}].", nameof(x));
        if (x.shape[3] != HeadDim)
            throw new ArgumentException($"RoPE input head dimension {x.shape[3]} differs from the embedding's {HeadDim}.", nameof(x));
        if (!x.is_floating_point())
            throw new ArgumentException($"RoPE input must be floating point; got {x.dtype}.", nameof(x));
        long videoTokens = (long)frames * height * width;
        long sequence = x.shape[2];
        if (sequence < videoTokens)
            throw new ArgumentException($"Sequence length {sequence} is shorter than the grid's {videoTokens} video tokens ({frames}x{height}x{width}).", nameof(x));

        using var scope = NewDisposeScope();
        var angles = Angles(frames, height, width).to(x.device);
        var cos = angles.cos();
        var sin = angles.sin();
        var video = x.narrow(2, 0, videoTokens).to(ScalarType.Float64).reshape(x.shape[0], x.shape[1], videoTokens, Pairs, 2);
        var real = video.select(-1, 0);
        var imaginary = video.select(-1, 1);
        var rotated = stack([real * cos - imaginary * sin, real * sin + imaginary * cos], -1)
            .reshape(x.shape[0], x.shape[1], videoTokens, HeadDim).to(x.dtype);
        var result = sequence == videoTokens ? rotated : cat([rotated, x.narrow(2, videoTokens, sequence - videoTokens)], 2);
        return result.MoveToOuterDisposeScope();
    }

    private static Tensor AxisAngles(int length, Tensor frequencies) =>
        outer(arange(length, dtype: ScalarType.Float64), frequencies);

    private static void ValidateGrid(int frames, int height, int width)
    {
        if (frames <= 0 || height <= 0 || width <= 0)
            throw new ArgumentOutOfRangeException(nameof(frames), $"Grid sizes must be positive; got {frames}x{height}x{width}.");
    }
}
