using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// A still of several videos for documentation: one row per video, a few evenly spaced frames per row,
/// separated by white lines, as an RGB uint8 image [H, W, 3] on the CPU.
/// </summary>
public static class SampleGrid
{
    /// <summary>Pixels of white between frames and rows.</summary>
    public const int Gap = 2;

    /// <summary>
    /// The grid of <paramref name="videos"/> ([1, 3, F, H, W] in [-1, 1], all of one size), each shown by
    /// <paramref name="framesPerRow"/> frames at round((F - 1) k / (framesPerRow - 1)).
    /// </summary>
    /// <exception cref="ArgumentException">No videos, videos of different sizes, or fewer than one frame per row.</exception>
    public static Tensor Compose(IReadOnlyList<Tensor> videos, int framesPerRow)
    {
        if (videos.Count == 0) throw new ArgumentException("A sample grid needs at least one video.");
        if (framesPerRow < 1) throw new ArgumentException($"Frames per row must be at least 1 (got {framesPerRow}).");
        var shape = videos[0].shape;
        if (shape.Length != 5 || shape[0] != 1 || shape[1] != 3 || videos.Any(v => !v.shape.SequenceEqual(shape)))
            throw new ArgumentException($"Sample videos must all be [1, 3, F, H, W] of one size; got {string.Join(" and ", videos.Select(v => "[" + string.Join(", ", v.shape) + "]").Distinct())}.");
        long frames = shape[2], height = shape[3], width = shape[4];
        var picks = FrameIndices(frames, framesPerRow);
        using var scope = NewDisposeScope();
        var grid = full(new long[] { videos.Count * (height + Gap) - Gap, picks.Length * (width + Gap) - Gap, 3 }, 255, ScalarType.Byte);
        for (int row = 0; row < videos.Count; row++)
        {
            var pixels = ((videos[row].to(ScalarType.Float32, CPU)[0].clamp(-1, 1) + 1) * 127.5).round().to(ScalarType.Byte).permute(1, 2, 3, 0);
            for (int column = 0; column < picks.Length; column++)
                grid.narrow(0, row * (height + Gap), height).narrow(1, column * (width + Gap), width).copy_(pixels[picks[column]]);
        }
        return grid.MoveToOuterDisposeScope();
    }

    /// <summary>The frames a row shows: <paramref name="count"/> evenly spaced indices of <paramref name="frames"/>, first and last included.</summary>
    public static long[] FrameIndices(long frames, int count) =>
        count == 1 || frames == 1 ? [0] : Enumerable.Range(0, count).Select(k => (long)Math.Round((frames - 1) * (double)k / (count - 1))).Distinct().ToArray();
}
