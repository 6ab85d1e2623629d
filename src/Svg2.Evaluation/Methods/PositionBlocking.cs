using static TorchSharp.torch;

namespace Svg2.Evaluation.Methods;

/// <summary>
/// How a sequence is cut into blocks of consecutive tokens: blocks of a fixed size (the last may be
/// shorter), or a fixed number of blocks of near-equal size (sizes differ by at most one token).
/// </summary>
public readonly record struct PositionBlocking
{
    PositionBlocking(int size, int count) => (Size, Count) = (size, count);

    /// <summary>Tokens per block, or 0 when the blocking is by count.</summary>
    public int Size { get; }

    /// <summary>Number of blocks, or 0 when the blocking is by size.</summary>
    public int Count { get; }

    /// <summary>Blocks of <paramref name="tokens"/> consecutive tokens.</summary>
    public static PositionBlocking OfSize(int tokens) =>
        tokens >= 1 ? new(tokens, 0) : throw new ArgumentException($"Block size must be at least 1 (got {tokens}).");

    /// <summary>
    /// <paramref name="blocks"/> blocks of near-equal size: token t of N is in block floor(t x blocks / N).
    /// Matching SVG2's cluster counts gives blocks of its mean cluster size.
    /// </summary>
    public static PositionBlocking Into(int blocks) =>
        blocks >= 1 ? new(0, blocks) : throw new ArgumentException($"Block count must be at least 1 (got {blocks}).");

    /// <summary>The number of blocks over <paramref name="tokens"/> tokens.</summary>
    public long Blocks(long tokens) => Size > 0 ? (tokens + Size - 1) / Size : Math.Min(Count, tokens);

    /// <summary>The block of every token, [N] int64 in [0, <see cref="Blocks"/>).</summary>
    public Tensor Labels(long tokens, Device device)
    {
        using var scope = NewDisposeScope();
        var token = arange(tokens, ScalarType.Int64, device);
        var labels = Size > 0 ? token.div(Size, rounding_mode: RoundingMode.floor) : (token * Blocks(tokens)).div(tokens, rounding_mode: RoundingMode.floor);
        return labels.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => Size > 0 ? $"{Size}-token blocks" : $"{Count} blocks";
}
