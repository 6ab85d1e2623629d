namespace Svg2.Models.Video;

/// <summary>Where <see cref="VideoOutput.Write"/> put a video, and in which form.</summary>
/// <param name="Path">The MP4 file, or the folder of PNG frames.</param>
/// <param name="IsFrameFolder">True when PNG frames were written instead of an MP4 file.</param>
/// <param name="Note">Why the form differs from the one asked for (ffmpeg missing); null when it does not.</param>
public sealed record WrittenVideo(string Path, bool IsFrameFolder, string? Note);
