using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// Zero-padding of the head dimension, for kernels with a fixed set of head dimensions: the padded channels
/// add nothing to q·k or to the output, and q is multiplied by sqrt(padded / original) so that the softmax
/// scale 1/sqrt(padded) the operator applies equals the original 1/sqrt(original).
/// </summary>
public static class HeadDimPadding
{
    /// <summary>q, k, v [..., S, D] padded to [..., S, <paramref name="headDim"/>] (q rescaled), in their dtype.</summary>
    public static (Tensor Q, Tensor K, Tensor V) Pad(Tensor q, Tensor k, Tensor v, int headDim)
    {
        long original = q.shape[^1];
        if (k.shape[^1] != original || v.shape[^1] != original)
            throw new ArgumentException($"q, k and v must share one head dimension to be padded; got {original}, {k.shape[^1]}, {v.shape[^1]}.");
        if (headDim < original)
            throw new ArgumentException($"Cannot pad head dimension {original} down to {headDim}.", nameof(headDim));
        using var scope = NewDisposeScope();
        long extra = headDim - original;
        Tensor Padded(Tensor x) => nn.functional.pad(x, [0, extra]);
        var rescaled = (q.to(ScalarType.Float32) * Math.Sqrt((double)headDim / original)).to(q.dtype);
        return (Padded(rescaled).MoveToOuterDisposeScope(), Padded(k).MoveToOuterDisposeScope(), Padded(v).MoveToOuterDisposeScope());
    }
}
