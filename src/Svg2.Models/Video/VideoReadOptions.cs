namespace Svg2.Models.Video;

/// <summary>What ffmpeg does to a video file's frames while decoding it.</summary>
public sealed record VideoReadOptions
{
    /// <summary>The frame size to scale to; null keeps the video's own.</summary>
    public FrameSize? Size { get; init; }

    /// <summary>How the frames reach <see cref="Size"/>.</summary>
    public FrameFit Fit { get; init; } = FrameFit.Stretch;

    /// <summary>The frame rate to resample to (ffmpeg's fps filter drops or repeats frames); null keeps every frame.</summary>
    public double? Fps { get; init; }

    /// <summary>True when the options change nothing.</summary>
    public bool KeepsFrames => Size is null && Fps is null;
}
