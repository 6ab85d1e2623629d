using Svg2.Models.Checkpoints;

namespace Svg2.Models.Wan;

/// <summary>A checkpoint that does not fit the model: a missing, unexpected or mis-shaped tensor, or a broken index.</summary>
public sealed class WanCheckpointException : CheckpointException
{
    /// <summary>Creates the exception with a message naming the tensor and what was expected and found.</summary>
    public WanCheckpointException(string message) : base(message) { }

    /// <summary>Creates the exception from the tensor source's or loader's error.</summary>
    public WanCheckpointException(string message, Exception inner) : base(message, inner) { }
}
