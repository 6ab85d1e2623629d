using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>
/// T5 self-attention (checkpoint keys q, k, v, o, all without bias): no 1/sqrt(d) scaling of the scores
/// (T5 folds it into the query weights), an additive position bias, and padded keys masked out. Runs in
/// the weights' dtype except the softmax, which is taken in float32, as in wan/modules/t5.py.
/// </summary>
public sealed class UMT5Attention : nn.Module
{
    readonly int _heads;

    internal UMT5Weight Q { get; }
    internal UMT5Weight K { get; }
    internal UMT5Weight V { get; }
    internal UMT5Weight O { get; }

    /// <summary>Creates the projections, uninitialised.</summary>
    public UMT5Attention(UMT5Config config, Device? device, ScalarType dtype) : base(nameof(UMT5Attention))
    {
        _heads = config.Heads;
        Q = new UMT5Weight(config.AttentionDim, config.Dim, device, dtype);
        K = new UMT5Weight(config.AttentionDim, config.Dim, device, dtype);
        V = new UMT5Weight(config.AttentionDim, config.Dim, device, dtype);
        O = new UMT5Weight(config.Dim, config.AttentionDim, device, dtype);
        register_module("q", Q);
        register_module("k", K);
        register_module("v", V);
        register_module("o", O);
    }

    /// <summary>
    /// x [B, L, dim] in the weights' dtype; <paramref name="positionBias"/> [1, heads, L, L];
    /// <paramref name="mask"/> [B, L] with 0 at padded keys, or null. Returns [B, L, dim].
    /// </summary>
    public Tensor Forward(Tensor x, Tensor positionBias, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], length = x.shape[1];
        var q = Q.Linear(x).view(batch, length, _heads, -1);
        var k = K.Linear(x).view(batch, length, _heads, -1);
        var v = V.Linear(x).view(batch, length, _heads, -1);

        // The bias is built as the reference builds it (zeros in x's dtype, plus the position bias,
        // then the mask's fill), so that it rounds the same way.
        var bias = zeros(batch, _heads, length, length, dtype: x.dtype, device: x.device);
        bias.add_(positionBias);
        if (mask is not null) bias.masked_fill_(mask.view(batch, 1, 1, -1).eq(0), LowestValue(x.dtype));

        var scores = einsum("binc,bjnc->bnij", q, k) + bias;
        var weights = scores.to(ScalarType.Float32).softmax(-1).to(scores.dtype);
        var attended = einsum("bnij,bjnc->binc", weights, v).reshape(batch, length, -1);
        return O.Linear(attended).MoveToOuterDisposeScope();
    }

    // torch.finfo(dtype).min: the most negative finite value.
    static double LowestValue(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float16 => -65504.0,
        _ => float.MinValue,
    };
}
