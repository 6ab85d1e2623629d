using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Clip;

/// <summary>
/// One pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)) with an exact-GELU MLP
/// (checkpoint keys norm1, attn, norm2, mlp.0, mlp.2). The norms run in float32 and round back to the
/// weights' dtype, as the public LayerNorm does (<c>super().forward(x.float()).type_as(x)</c>); the rest,
/// residual adds included, runs in the weights' dtype.
/// </summary>
public sealed class ClipAttentionBlock : nn.Module
{
    internal LayerNorm Norm1 { get; }
    internal ClipSelfAttention Attention { get; }
    internal LayerNorm Norm2 { get; }
    internal ClipMlp Mlp { get; }

    /// <summary>Creates the block, uninitialised.</summary>
    public ClipAttentionBlock(ClipVisionConfig config, Device? device, ScalarType dtype) : base(nameof(ClipAttentionBlock))
    {
        Norm1 = nn.LayerNorm(config.Dim, config.Eps, device: device, dtype: dtype);
        Attention = new ClipSelfAttention(config, device, dtype);
        Norm2 = nn.LayerNorm(config.Dim, config.Eps, device: device, dtype: dtype);
        Mlp = new ClipMlp(config, device, dtype);
        register_module("norm1", Norm1);
        register_module("attn", Attention);
        register_module("norm2", Norm2);
        register_module("mlp", Mlp);
    }

    /// <summary>x [B, L, dim] in the weights' dtype to the same.</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x + Attention.Forward(ClipNorm.Apply(Norm1, x));
        x = x + Mlp.Forward(ClipNorm.Apply(Norm2, x));
        return x.MoveToOuterDisposeScope();
    }
}
