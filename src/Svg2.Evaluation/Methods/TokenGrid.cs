using static TorchSharp.torch;

namespace Svg2.Evaluation.Methods;

/// <summary>
/// The latent grid of a video sequence in frame-major order (t, h, w): token
/// <c>(t * Height + h) * Width + w</c>. A text sequence is the grid 1 x 1 x S.
/// </summary>
public readonly record struct TokenGrid(int Frames, int Height, int Width)
{
    /// <summary>Tokens in the grid.</summary>
    public long Tokens => (long)Frames * Height * Width;

    /// <summary>A one-dimensional grid of <paramref name="tokens"/> tokens.</summary>
    public static TokenGrid Sequence(long tokens) => new(1, 1, checked((int)tokens));

    /// <summary>The (t, h, w) position of every token, [<see cref="Tokens"/>, 3] int64 in token order.</summary>
    public Tensor Coordinates(Device device)
    {
        using var scope = NewDisposeScope();
        var token = arange(Tokens, ScalarType.Int64, device);
        var t = token.div((long)Height * Width, rounding_mode: RoundingMode.floor);
        var h = token.div(Width, rounding_mode: RoundingMode.floor).remainder(Height);
        var w = token.remainder(Width);
        return stack([t, h, w], 1).MoveToOuterDisposeScope();
    }
}
