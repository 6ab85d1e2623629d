using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>What the encoder and decoder share: the middle block, running a list of layers, and the head.</summary>
internal static class CausalLayers
{
    /// <summary>Residual block, attention block, residual block at one width (the public "middle" Sequential).</summary>
    public static ModuleList<CausalLayer> Middle(long channels, Device? device, ScalarType dtype) => new(
        new VaeResidualBlock(channels, channels, device, dtype),
        new VaeAttentionBlock(channels, device, dtype),
        new VaeResidualBlock(channels, channels, device, dtype));

    /// <summary>Runs <paramref name="layers"/> in order on the next chunk; takes ownership of <paramref name="x"/>, freeing each input once its layer has run.</summary>
    public static Tensor Run(IEnumerable<CausalLayer> layers, Tensor x, CausalCache cache)
    {
        foreach (var layer in layers)
        {
            var next = layer.Forward(x, cache);
            x.Dispose();
            x = next;
        }
        return x;
    }

    /// <summary>norm, SiLU, convolution (the public "head" Sequential); takes ownership of <paramref name="x"/>.</summary>
    public static Tensor Head(VaeRmsNorm norm, CausalConv3d conv, Tensor x, CausalCache cache)
    {
        Tensor activated;
        using (x) activated = norm.Forward(x, silu: true);
        using (activated) return conv.Forward(activated, cache);
    }
}
