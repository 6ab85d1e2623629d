using Svg2.Models.Video;

namespace Svg2.Models.Data;

/// <summary>How <see cref="FootageDataset.Build"/> cuts footage into clips.</summary>
public sealed record FootageOptions
{
    /// <summary>Frames per clip.</summary>
    public int ClipFrames { get; init; } = 33;

    /// <summary>Clip frame size; frames are scaled to cover it and centre-cropped.</summary>
    public FrameSize Size { get; init; } = new(96, 160);

    /// <summary>Frames between consecutive training clips' starts; null: <see cref="ClipFrames"/> (clips do not overlap).</summary>
    public int? Stride { get; init; }

    /// <summary>Share of each source's frames held out for evaluation, in [0, 1) (see <see cref="ClipPlan.Create"/>).</summary>
    public double HeldOutFraction { get; init; } = 0.1;

    /// <summary>Seed of the held-out regions' positions.</summary>
    public int Seed { get; init; }

    /// <summary>Frame rate all sources are resampled to; null: the lowest source rate, so no frame is repeated.</summary>
    public double? Fps { get; init; }

    /// <summary>Upper bound on the dataset file's size in bytes; clips are thinned evenly to fit. Null: no bound.</summary>
    public long? MaxBytes { get; init; }
}
