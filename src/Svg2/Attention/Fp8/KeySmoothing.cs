using static TorchSharp.torch;

namespace Svg2.Attention.Fp8;

/// <summary>
/// K smoothing (SageAttention): each head's keys minus their mean over the head's tokens. A query's
/// logits all move by q·mean / sqrt(D), which the softmax cancels, over any subset of the keys (so
/// block-sparse attention is unchanged too); what shrinks is the keys' common offset, which would
/// otherwise take up most of the FP8 range of every key tile.
/// </summary>
public static class KeySmoothing
{
    /// <summary>[G, N, D] keys minus their mean over N, in float32.</summary>
    public static Tensor Smooth(Tensor k)
    {
        if (k.dim() != 3) throw new ArgumentException($"Expected keys [G, N, D]; got [{string.Join(", ", k.shape)}].", nameof(k));
        using var scope = NewDisposeScope();
        var keys = k.to(ScalarType.Float32);
        return (keys - keys.mean([1], keepdim: true)).MoveToOuterDisposeScope();
    }
}
