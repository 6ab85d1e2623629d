using Svg2.Models.Profiling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// One Wan transformer block: modulated self-attention, cross-attention behind an affine LayerNorm,
/// and a modulated GELU(tanh) feed-forward. The six modulation vectors (shift, scale, gate for
/// attention, then for the feed-forward) are the block's learned modulation plus the time projection.
/// Checkpoint keys: self_attn.*, norm3.weight/bias, cross_attn.*, ffn.0/ffn.2, modulation [1, 6, dim].
/// </summary>
/// <remarks>
/// <see cref="Forward"/> keeps the reference numerics (a float32 residual stream);
/// <see cref="ForwardInPlace"/> runs <see cref="WanNumerics.Fast"/>, updating a residual stream in the
/// weights' dtype in place.
/// </remarks>
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
    /// Reference numerics. x [B, S, dim] (the patch embedding's dtype in the first block, float32 after);
    /// timeModulation [B, 6, dim] float32; context [B, L, dim]. Returns float32.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor timeModulation, Tensor context, WanBlockRun run)
    {
        using var scope = NewDisposeScope();
        run.Enter(WanOpClass.Elementwise);
        var e = (Modulation.to(ScalarType.Float32) + timeModulation).chunk(6, 1);
        // The reference's norm returns the input's dtype: bf16 in the first block, float32 after it.
        var attentionInput = WanNorms.LayerNorm(x, null, null, _eps).to(x.dtype).to(ScalarType.Float32) * (1 + e[1]) + e[0];
        var attended = SelfAttention.Forward(attentionInput, _layer, run);
        run.Enter(WanOpClass.Elementwise);
        x = x + attended.to(ScalarType.Float32) * e[2];
        var crossInput = WanNorms.LayerNorm(x, CrossAttentionNorm.weight, CrossAttentionNorm.bias, _eps);
        var crossed = CrossAttention.Forward(crossInput, context, run);
        run.Enter(WanOpClass.Elementwise);
        x = x + crossed.to(ScalarType.Float32);
        var feedForwardInput = WanNorms.LayerNorm(x, null, null, _eps) * (1 + e[4]) + e[3];
        var fed = FeedForward.Forward(feedForwardInput, run);
        run.Enter(WanOpClass.Elementwise);
        x = x + fed.to(ScalarType.Float32) * e[5];
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Fast numerics: updates the residual stream x [B, S, dim] (the weights' dtype) in place.
    /// timeModulation [B, 6, dim] float32; context [B, L, dim].
    /// </summary>
    public void ForwardInPlace(Tensor x, Tensor timeModulation, Tensor context, WanBlockRun run)
    {
        using var scope = NewDisposeScope();
        run.Enter(WanOpClass.Elementwise);
        var modulation = Modulation.to(ScalarType.Float32) + timeModulation;
        Tensor Vector(int index) => modulation.select(1, index).contiguous();
        var kernels = run.Kernels;

        var attentionInput = kernels.ModulatedLayerNorm(x, null, null, Vector(0), Vector(1), _eps);
        var attended = SelfAttention.ForwardFast(attentionInput, _layer, run);
        run.Enter(WanOpClass.Elementwise);
        kernels.GatedResidualAdd(x, attended, Vector(2));

        var crossInput = kernels.ModulatedLayerNorm(x, CrossAttentionNorm.weight, CrossAttentionNorm.bias, null, null, _eps);
        var crossed = CrossAttention.ForwardFast(crossInput, context, run);
        run.Enter(WanOpClass.Elementwise);
        kernels.GatedResidualAdd(x, crossed, null);

        var feedForwardInput = kernels.ModulatedLayerNorm(x, null, null, Vector(3), Vector(4), _eps);
        var fed = FeedForward.Forward(feedForwardInput, run);
        run.Enter(WanOpClass.Elementwise);
        kernels.GatedResidualAdd(x, fed, Vector(5));
    }
}
