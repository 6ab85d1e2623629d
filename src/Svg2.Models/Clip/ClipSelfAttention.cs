using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Clip;

/// <summary>
/// Multi-head self-attention over all tokens with one fused projection (checkpoint keys to_qkv, [3 dim, dim],
/// q, k and v in that order, and proj), scores scaled by 1/sqrt(head width), in the weights' dtype.
/// </summary>
public sealed class ClipSelfAttention : nn.Module
{
    readonly int _heads;

    internal Linear ToQkv { get; }
    internal Linear Proj { get; }

    /// <summary>Creates the projections, uninitialised.</summary>
    public ClipSelfAttention(ClipVisionConfig config, Device? device, ScalarType dtype) : base(nameof(ClipSelfAttention))
    {
        _heads = config.Heads;
        ToQkv = nn.Linear(config.Dim, 3L * config.Dim, device: device, dtype: dtype);
        Proj = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
        register_module("to_qkv", ToQkv);
        register_module("proj", Proj);
    }

    /// <summary>x [B, L, dim] in the weights' dtype to [B, L, dim].</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], length = x.shape[1], dim = x.shape[2];
        // [B, L, 3, heads, d] to three [B, heads, L, d].
        var qkv = ToQkv.forward(x).view(batch, length, 3, _heads, -1).permute(2, 0, 3, 1, 4);
        var attended = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]);
        return Proj.forward(attended.transpose(1, 2).reshape(batch, length, dim)).MoveToOuterDisposeScope();
    }
}
