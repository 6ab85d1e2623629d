using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// norm, SiLU, causal 3x3x3 convolution, norm, SiLU, causal 3x3x3 convolution, plus a shortcut (a
/// 1x1x1 convolution where the width changes). Checkpoint names of the public <c>ResidualBlock</c>:
/// residual.0.gamma, residual.2.weight/bias, residual.3.gamma, residual.6.weight/bias and
/// shortcut.weight/bias (dropout, inactive at inference, sits at position 5).
/// </summary>
public sealed class VaeResidualBlock : CausalLayer
{
    internal VaeRmsNorm Norm1 { get; }
    internal CausalConv3d Conv1 { get; }
    internal VaeRmsNorm Norm2 { get; }
    internal CausalConv3d Conv2 { get; }
    internal CausalConv3d? Shortcut { get; }

    /// <summary>Creates the block from <paramref name="inChannels"/> to <paramref name="outChannels"/>.</summary>
    public VaeResidualBlock(long inChannels, long outChannels, Device? device, ScalarType dtype) : base(nameof(VaeResidualBlock))
    {
        Norm1 = new VaeRmsNorm(inChannels, images: false, bias: false, device, dtype);
        Conv1 = CausalConv3d.Cubic(inChannels, outChannels, 3, 1, device, dtype);
        Norm2 = new VaeRmsNorm(outChannels, images: false, bias: false, device, dtype);
        Conv2 = CausalConv3d.Cubic(outChannels, outChannels, 3, 1, device, dtype);
        register_module("residual", new SequentialPositions((0, Norm1), (2, Conv1), (3, Norm2), (6, Conv2)));
        if (inChannels != outChannels)
        {
            Shortcut = CausalConv3d.Cubic(inChannels, outChannels, 1, 0, device, dtype);
            register_module("shortcut", Shortcut);
        }
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, CausalCache cache)
    {
        // Each full-size intermediate is freed as soon as the next exists: at 720p one is over a gigabyte.
        Tensor h;
        using (var activated = Norm1.Forward(x, silu: true)) h = Conv1.Forward(activated, cache);
        using (var activated = Norm2.Forward(h, silu: true))
        {
            h.Dispose();
            h = Conv2.Forward(activated, cache);
        }
        if (Shortcut is null) return h.add_(x);
        using var shortcut = Shortcut.Forward(x);
        return h.add_(shortcut);
    }
}
