namespace Svg2.Models.Video;

/// <summary>
/// A video file or frame folder could not be read or written. The message names the path and the cause
/// (a missing program, an unreadable or inconsistent input, ffmpeg's own error, a full disk).
/// </summary>
public class VideoIOException : IOException
{
    /// <summary>Creates the exception with a message that names the path and the cause.</summary>
    public VideoIOException(string message, Exception? inner = null) : base(message, inner) { }
}
