namespace Svg2.Models.Checkpoints;

/// <summary>
/// Weights that do not fit a model: a missing, unexpected or mis-shaped tensor, an unreadable file or a
/// folder that holds no known checkpoint layout. The message names the file and tensor.
/// </summary>
public class CheckpointException : Exception
{
    /// <summary>Creates the exception with a message naming what was expected and found.</summary>
    public CheckpointException(string message) : base(message) { }

    /// <summary>Creates the exception with the error that caused it.</summary>
    public CheckpointException(string message, Exception inner) : base(message, inner) { }
}
