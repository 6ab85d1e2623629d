namespace Svg2.Models.Sampling;

/// <summary>How classifier-free guidance runs its conditional and unconditional passes.</summary>
public enum GuidanceMode
{
    /// <summary>One forward with the two passes concatenated along the batch (faster, twice the activation memory).</summary>
    Batched,

    /// <summary>Two forwards per step, conditional then unconditional (as Wan's own loop does).</summary>
    Sequential,
}
