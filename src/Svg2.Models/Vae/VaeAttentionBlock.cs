using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// Single-head self-attention within each frame (no attention across time), with a residual:
/// x + proj(attention(to_qkv(norm(x)))). Checkpoint names of the public <c>AttentionBlock</c>:
/// norm.gamma [C, 1, 1], to_qkv.weight [3C, C, 1, 1] (q, k, v in that order along the output
/// channels), to_qkv.bias, proj.weight [C, C, 1, 1], proj.bias.
/// </summary>
public sealed class VaeAttentionBlock : CausalLayer
{
    internal VaeRmsNorm Norm { get; }
    internal Conv2d ToQkv { get; }
    internal Conv2d Proj { get; }

    /// <summary>Creates the block over <paramref name="channels"/> channels.</summary>
    public VaeAttentionBlock(long channels, Device? device, ScalarType dtype) : base(nameof(VaeAttentionBlock))
    {
        Norm = new VaeRmsNorm(channels, images: true, bias: false, device, dtype);
        ToQkv = nn.Conv2d(channels, 3 * channels, 1, device: device, dtype: dtype);
        Proj = nn.Conv2d(channels, channels, 1, device: device, dtype: dtype);
        register_module("norm", Norm);
        register_module("to_qkv", ToQkv);
        register_module("proj", Proj);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, CausalCache cache) => Forward(x);

    /// <summary>Attention within each frame of [B, C, T, H, W]; frames are independent, so no cache is needed.</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], channels = x.shape[1], frames = x.shape[2], height = x.shape[3], width = x.shape[4];
        // The 1x1 convolutions are linear maps of each pixel's channels: applied to channels-last tokens.
        var tokens = Norm.Forward(x).permute(0, 2, 3, 4, 1).reshape(batch * frames, 1, height * width, channels);
        var qkv = nn.functional.linear(tokens, ToQkv.weight!.view(3 * channels, channels), ToQkv.bias).chunk(3, -1);
        var attended = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]);
        var projected = nn.functional.linear(attended, Proj.weight!.view(channels, channels), Proj.bias);
        var output = x + projected.view(batch, frames, height, width, channels).permute(0, 4, 1, 2, 3);
        return output.MoveToOuterDisposeScope();
    }
}
