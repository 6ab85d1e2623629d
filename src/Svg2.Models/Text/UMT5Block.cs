using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>
/// One umT5 encoder layer (T5SelfAttention in wan/modules/t5.py): pre-norm self-attention with the
/// layer's own relative-position bias, then a pre-norm gated feed-forward, each added to the residual
/// stream in the weights' dtype. Checkpoint keys norm1, attn, norm2, ffn and pos_embedding.
/// </summary>
public sealed class UMT5Block : nn.Module
{
    internal UMT5LayerNorm Norm1 { get; }
    internal UMT5Attention Attention { get; }
    internal UMT5LayerNorm Norm2 { get; }
    internal UMT5FeedForward FeedForward { get; }
    internal UMT5RelativePositionBias PositionBias { get; }

    /// <summary>Creates the layer, its matrices uninitialised.</summary>
    public UMT5Block(UMT5Config config, Device? device, ScalarType dtype) : base(nameof(UMT5Block))
    {
        Norm1 = new UMT5LayerNorm(config.Dim, config.Eps, device, dtype);
        Attention = new UMT5Attention(config, device, dtype);
        Norm2 = new UMT5LayerNorm(config.Dim, config.Eps, device, dtype);
        FeedForward = new UMT5FeedForward(config, device, dtype);
        PositionBias = new UMT5RelativePositionBias(config.PositionBuckets, config.Heads, config.MaxDistance, device, dtype);
        register_module("norm1", Norm1);
        register_module("attn", Attention);
        register_module("norm2", Norm2);
        register_module("ffn", FeedForward);
        register_module("pos_embedding", PositionBias);
    }

    /// <summary>x [B, L, dim] in the weights' dtype; <paramref name="mask"/> [B, L] (0 at padding) or null.</summary>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var bias = PositionBias.Forward(x.shape[1], x.shape[1]);
        x = ClampInfinities(x + Attention.Forward(Norm1.Forward(x), bias, mask));
        x = ClampInfinities(x + FeedForward.Forward(Norm2.Forward(x)));
        return x.MoveToOuterDisposeScope();
    }

    // The reference's fp16_clamp: float16 overflows to infinity in umT5-XXL's activations; pull it back
    // just inside the finite range. Other dtypes pass unchanged.
    static Tensor ClampInfinities(Tensor x)
    {
        if (x.dtype != ScalarType.Float16 || !x.isinf().any().item<bool>()) return x;
        const double limit = 65504.0 - 1000.0;
        return x.clamp(-limit, limit);
    }
}
