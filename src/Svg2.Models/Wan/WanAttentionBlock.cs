using Svg2.Models.Attention;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// One Wan transformer block: modulated self-attention, cross-attention behind an affine LayerNorm,
/// and a modulated GELU(tanh) feed-forward. The six modulation vectors (shift, scale, gate for
/// attention, then for the feed-forward) are the block's learned modulation plus the time projection.
/// The residual stream is float32 whatever the weights' dtype, as in the reference.
/// Checkpoint keys: self_attn.*, norm3.weight/bias, cross_attn.*, ffn.0/ffn.2, modulation [1, 6, dim].
/// </summary>
public sealed class WanAttentionBlock : nn.Module
{
    readonly double _eps;
    readonly int _layer;

    internal WanSelfAttention SelfAttention { get; }
    internal LayerNorm CrossAttentionNorm { get; }
    internal WanCrossAttention CrossAttention { get; }
    internal WanMlp FeedForward { get; }
    internal Parameter Modulation { get; }

    /// <summary>Creates block number <paramref name="layer"/>.</summary>
    public WanAttentionBlock(WanConfig config, int layer, Device? device, ScalarType dtype) : base(nameof(WanAttentionBlock))
    {
        _eps = config.Eps;
        _layer = layer;
        SelfAttention = new WanSelfAttention(config, device, dtype);
        CrossAttentionNorm = nn.LayerNorm(config.Dim, config.Eps, device: device, dtype: dtype);
        CrossAttention = new WanCrossAttention(config, device, dtype);
        FeedForward = new WanMlp(config.Dim, config.FfnDim, config.Dim, WanActivation.GeluTanh, device, dtype);
        Modulation = new Parameter(randn(1, 6, config.Dim, dtype: dtype, device: device) / Math.Sqrt(config.Dim));
        register_module("self_attn", SelfAttention);
        register_module("norm3", CrossAttentionNorm);
        register_module("cross_attn", CrossAttention);
        register_module("ffn", FeedForward);
        register_parameter("modulation", Modulation);
    }

    /// <summary>
    /// x [B, S, dim] (the patch embedding's dtype in the first block, float32 after); timeModulation [B, 6, dim] float32; context [B, L, dim]. Returns float32.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor timeModulation, Tensor context, WanRotaryEmbedding rope, ISelfAttentionProcessor processor, ForwardContext forward)
    {
        using var scope = NewDisposeScope();
        var e = (Modulation.to(ScalarType.Float32) + timeModulation).chunk(6, 1);
        // The reference's norm returns the input's dtype: bf16 in the first block, float32 after it.
        var attentionInput = WanNorms.LayerNorm(x, null, null, _eps).to(x.dtype).to(ScalarType.Float32) * (1 + e[1]) + e[0];
        var attended = SelfAttention.Forward(attentionInput, rope, processor, _layer, forward);
        x = x + attended.to(ScalarType.Float32) * e[2];
        var crossInput = WanNorms.LayerNorm(x, CrossAttentionNorm.weight, CrossAttentionNorm.bias, _eps);
        x = x + CrossAttention.Forward(crossInput, context).to(ScalarType.Float32);
        var feedForwardInput = WanNorms.LayerNorm(x, null, null, _eps) * (1 + e[4]) + e[3];
        x = x + FeedForward.Forward(feedForwardInput).to(ScalarType.Float32) * e[5];
        return x.MoveToOuterDisposeScope();
    }
}
