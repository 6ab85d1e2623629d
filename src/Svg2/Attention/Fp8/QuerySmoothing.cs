using static TorchSharp.torch;

namespace Svg2.Attention.Fp8;

/// <summary>
/// Q smoothing: each head's queries minus their mean q̄ over the head's tokens before quantising, with the part of every
/// logit that the mean carries, q̄ · k, added back in float32 as a per-key bias. The logits are unchanged; what
/// FP8 rounds is only the queries' spread around q̄, which on heads with a large common query direction (sharp text
/// attention) is far smaller than the queries themselves. Unlike K smoothing, the removed part is not the same for
/// every key of a row, so it cannot be dropped: it is computed from the keys before their rounding.
/// </summary>
public static class QuerySmoothing
{
    /// <summary>
    /// [G, Nq, D] queries minus their mean over Nq, and the [G, Nk] bias q̄ · k of every key, both float32.
    /// </summary>
    /// <param name="q">[G, Nq, D] queries.</param>
    /// <param name="keys">[G, Nk, D] keys as the attention quantises them (after K smoothing, when it smooths).</param>
    public static (Tensor Queries, Tensor KeyBias) Smooth(Tensor q, Tensor keys)
    {
        if (q.dim() != 3 || keys.dim() != 3 || q.shape[0] != keys.shape[0] || q.shape[2] != keys.shape[2])
            throw new ArgumentException($"Expected queries [G, Nq, D] and keys [G, Nk, D]; got [{string.Join(", ", q.shape)}] and [{string.Join(", ", keys.shape)}].");
        using var scope = NewDisposeScope();
        var queries = q.to(ScalarType.Float32);
        var mean = queries.mean([1], keepdim: true);
        var bias = keys.to(ScalarType.Float32).matmul(mean.transpose(1, 2)).squeeze(2);
        return ((queries - mean).MoveToOuterDisposeScope(), bias.MoveToOuterDisposeScope());
    }
}
