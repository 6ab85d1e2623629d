using Svg2.Models.Attention;
using Svg2.Models.Kernels;
using Svg2.Models.Profiling;

namespace Svg2.Models.Wan;

/// <summary>What every block of one forward shares: the rotary tables, the attention processor, the numerics and their kernels.</summary>
/// <param name="Rope">Rotary tables for the forward's token grid.</param>
/// <param name="Processor">The self-attention method.</param>
/// <param name="Forward">Step and guidance pass, handed to the processor.</param>
/// <param name="Numerics">Where the forward rounds.</param>
/// <param name="Kernels">The memory-bound steps of <see cref="WanNumerics.Fast"/>.</param>
/// <param name="Profiler">Receives op-class boundaries, or null.</param>
public sealed record WanBlockRun(WanRotaryEmbedding Rope, ISelfAttentionProcessor Processor, ForwardContext Forward, WanNumerics Numerics,
    IWanBlockKernels Kernels, IOpProfiler? Profiler)
{
    /// <summary>Marks the start of work of <paramref name="opClass"/>.</summary>
    public void Enter(WanOpClass opClass) => Profiler?.Enter(opClass);
}
