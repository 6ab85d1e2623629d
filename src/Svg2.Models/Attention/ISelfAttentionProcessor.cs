using static TorchSharp.torch;

namespace Svg2.Models.Attention;

/// <summary>
/// Computes a transformer's self-attention from its prepared q, k and v. The model calls the processor
/// it was given for every layer of every step and never knows which method runs; a processor may
/// choose differently per step, layer and guidance pass.
/// </summary>
public interface ISelfAttentionProcessor
{
    /// <summary>The attention output, [B, H, S, D] in the dtype of the query, in the original token order.</summary>
    Tensor Process(AttentionCall call);
}
