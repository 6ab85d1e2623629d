using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// The decoder: latents [B, ZDim, T, h, w] (after the post-quant convolution) to video [B, 3, T', 8h, 8w].
/// Checkpoint names of the public <c>Decoder3d</c>: conv1, middle.0 (residual), middle.1 (attention),
/// middle.2 (residual), upsamples.{i} (per stage NumResBlocks + 1 residual blocks, then a resampling
/// except after the last stage), head.0 (norm) and head.2 (convolution).
/// </summary>
public sealed class VaeDecoder3d : nn.Module
{
    internal CausalConv3d Conv1 { get; }
    internal ModuleList<CausalLayer> Middle { get; }
    internal ModuleList<CausalLayer> Upsamples { get; }
    internal VaeRmsNorm HeadNorm { get; }
    internal CausalConv3d HeadConv { get; }

    /// <summary>Creates the decoder with random weights.</summary>
    public VaeDecoder3d(WanVaeConfig config, Device? device, ScalarType dtype) : base(nameof(VaeDecoder3d))
    {
        var dims = config.DecoderDims;
        var temporalUpsample = config.TemporalDownsample.Reverse().ToArray();
        Conv1 = CausalConv3d.Cubic(config.ZDim, dims[0], 3, 1, device, dtype);
        Middle = CausalLayers.Middle(dims[0], device, dtype);
        Upsamples = new ModuleList<CausalLayer>();
        int stages = config.DimMult.Count;
        for (int stage = 0; stage < stages; stage++)
        {
            // Every stage after the first receives the previous stage's upsampling, which halves the width.
            long inDim = stage == 0 ? dims[0] : dims[stage] / 2, outDim = dims[stage + 1];
            for (int block = 0; block <= config.NumResBlocks; block++, inDim = outDim)
                Upsamples.Add(new VaeResidualBlock(inDim, outDim, device, dtype));
            if (stage < stages - 1)
                Upsamples.Add(new VaeResample(outDim, temporalUpsample[stage] ? VaeResampleMode.Upsample3d : VaeResampleMode.Upsample2d, device, dtype));
        }
        long width = dims[^1];
        HeadNorm = new VaeRmsNorm(width, images: false, bias: false, device, dtype);
        HeadConv = CausalConv3d.Cubic(width, 3, 3, 1, device, dtype);
        register_module("conv1", Conv1);
        register_module("middle", Middle);
        register_module("upsamples", Upsamples);
        register_module("head", new SequentialPositions((0, HeadNorm), (2, HeadConv)));
    }

    /// <summary>Decodes the next time chunk of latents; returns a new tensor.</summary>
    public Tensor Forward(Tensor x, CausalCache cache)
    {
        var h = Conv1.Forward(x, cache);
        h = CausalLayers.Run(Middle, h, cache);
        h = CausalLayers.Run(Upsamples, h, cache);
        return CausalLayers.Head(HeadNorm, HeadConv, h, cache);
    }
}
