namespace Svg2.Models.Video;

/// <summary>ffmpeg or ffprobe is not where it was looked for; the message says where that was.</summary>
public sealed class FFmpegNotFoundException : VideoIOException
{
    /// <summary>Creates the exception with a message that says where the program was looked for.</summary>
    public FFmpegNotFoundException(string message) : base(message) { }
}
