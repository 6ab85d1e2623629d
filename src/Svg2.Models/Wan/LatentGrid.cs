namespace Svg2.Models.Wan;

/// <summary>The token grid of a video after patch embedding: tokens are ordered frame-major, then row, then column.</summary>
/// <param name="Frames">Latent frames after temporal patching.</param>
/// <param name="Height">Token rows.</param>
/// <param name="Width">Token columns.</param>
public readonly record struct LatentGrid(int Frames, int Height, int Width)
{
    /// <summary>Tokens in the grid.</summary>
    public long Tokens => (long)Frames * Height * Width;

    /// <inheritdoc />
    public override string ToString() => $"{Frames}x{Height}x{Width}";
}
