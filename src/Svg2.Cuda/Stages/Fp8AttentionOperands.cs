using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// Q, K and V of one FP8 attention call on the GPU: [G, N, D] e4m3 bytes in original token order with their float32
/// dequantisation scales ([G, N] for Q; [G, N] or, one per head, [G] for K; [G, D] for V), and under Q smoothing the
/// keys' float32 logit bias q̄ · k ([G, Nk]; null without it).
/// </summary>
internal sealed record Fp8AttentionOperands(Tensor Queries, Tensor QueryScales, Tensor Keys, Tensor KeyScales, Tensor Values, Tensor ValueScales,
    Tensor? KeyBias) : IDisposable
{
    /// <summary>Moves every tensor to the enclosing dispose scope's parent.</summary>
    public Fp8AttentionOperands MoveToOuterDisposeScope()
    {
        foreach (var tensor in Tensors) tensor.MoveToOuterDisposeScope();
        return this;
    }

    IEnumerable<Tensor> Tensors => KeyBias is null ? [Queries, QueryScales, Keys, KeyScales, Values, ValueScales]
        : [Queries, QueryScales, Keys, KeyScales, Values, ValueScales, KeyBias];

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in Tensors) tensor.Dispose();
    }
}
