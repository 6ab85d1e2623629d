using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// A measurement hook for evaluation (for example recall and error against dense attention): given to
/// <see cref="Svg2Attention.Forward"/>, it makes the call run stage by stage and is shown the call's
/// inputs, output and blocks once the attention is done.
/// </summary>
public interface IAttentionQualityProbe
{
    /// <summary>Measures one call; the tensors belong to the call and live until it returns.</summary>
    /// <param name="q">[G, S, D] queries, heads flattened into groups.</param>
    /// <param name="k">[G, S, D].</param>
    /// <param name="v">[G, S, D].</param>
    /// <param name="output">[G, S, D] the sparse output, original token order.</param>
    /// <param name="sparsity">The blocks the call attended (text blocks included).</param>
    void Measure(Tensor q, Tensor k, Tensor v, Tensor output, BlockSparsity sparsity);
}
