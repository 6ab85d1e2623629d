namespace Svg2.Models.Data;

/// <summary>
/// Where one footage source's clips lie. Held-out clips fill one contiguous region of whole clips, placed at a
/// seeded position; training clips are cut with the stride only from the frames before and after that region, so
/// no frame is in both a training and a held-out clip. Among the positions that keep the most training clips the
/// seed picks one uniformly, so short sources lose no training clip to a badly placed region.
/// </summary>
/// <param name="FrameCount">Frames in the source.</param>
/// <param name="ClipFrames">Frames per clip.</param>
/// <param name="HeldOutStart">First frame of the held-out region.</param>
/// <param name="HeldOutLength">Frames in the held-out region (a whole number of clips; 0 when nothing is held out).</param>
/// <param name="TrainingStarts">First frame of each training clip, ascending.</param>
/// <param name="HeldOutStarts">First frame of each held-out clip, ascending.</param>
public sealed record ClipPlan(int FrameCount, int ClipFrames, int HeldOutStart, int HeldOutLength,
    IReadOnlyList<int> TrainingStarts, IReadOnlyList<int> HeldOutStarts)
{
    /// <summary>Plans the clips of a source of <paramref name="frameCount"/> frames.</summary>
    /// <param name="frameCount">Frames in the source.</param>
    /// <param name="clipFrames">Frames per clip (at least 1).</param>
    /// <param name="stride">Frames between the starts of consecutive training clips (at least 1; below
    /// <paramref name="clipFrames"/> training clips overlap each other, never a held-out clip).</param>
    /// <param name="heldOutFraction">Share of the source's frames to hold out, in [0, 1). It is rounded to whole
    /// clips, at least one whenever the fraction is positive and the source holds two clips, and always leaves room
    /// for a training clip.</param>
    /// <param name="random">Chooses the held-out region's position.</param>
    /// <exception cref="ArgumentOutOfRangeException">A count, the stride or the fraction is out of range.</exception>
    public static ClipPlan Create(int frameCount, int clipFrames, int stride, double heldOutFraction, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frameCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(clipFrames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        if (!(heldOutFraction is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(heldOutFraction), heldOutFraction, "The held-out fraction must lie in [0, 1).");

        int wholeClips = frameCount / clipFrames;
        int heldOutClips = heldOutFraction > 0 && wholeClips >= 2
            ? Math.Clamp((int)Math.Round(heldOutFraction * frameCount / clipFrames, MidpointRounding.AwayFromZero), 1, wholeClips - 1)
            : 0;
        int length = heldOutClips * clipFrames;
        if (length == 0) return new ClipPlan(frameCount, clipFrames, 0, 0, Starts(0, frameCount, clipFrames, stride), []);

        int Training(int start) => Count(start, clipFrames, stride) + Count(frameCount - start - length, clipFrames, stride);
        var positions = Enumerable.Range(0, frameCount - length + 1).ToList();
        int most = positions.Max(Training);
        var best = positions.Where(p => Training(p) == most).ToList();
        int region = best[random.Next(best.Count)];
        var training = Starts(0, region, clipFrames, stride).Concat(Starts(region + length, frameCount, clipFrames, stride)).ToList();
        var heldOut = Enumerable.Range(0, heldOutClips).Select(k => region + k * clipFrames).ToList();
        return new ClipPlan(frameCount, clipFrames, region, length, training, heldOut);
    }

    static int Count(int frames, int clipFrames, int stride) => frames >= clipFrames ? (frames - clipFrames) / stride + 1 : 0;

    static List<int> Starts(int begin, int end, int clipFrames, int stride) =>
        Enumerable.Range(0, Count(end - begin, clipFrames, stride)).Select(i => begin + i * stride).ToList();
}
