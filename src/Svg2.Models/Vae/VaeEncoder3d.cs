using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// The encoder: video [B, 3, T, H, W] to [B, 2 x ZDim, T', H / 8, W / 8] (mean and log-variance before
/// the quant convolution). Checkpoint names of the public <c>Encoder3d</c>: conv1, downsamples.{i}
/// (per stage NumResBlocks residual blocks, then a resampling except after the last stage), middle.0
/// (residual), middle.1 (attention), middle.2 (residual), head.0 (norm) and head.2 (convolution).
/// </summary>
public sealed class VaeEncoder3d : nn.Module
{
    internal CausalConv3d Conv1 { get; }
    internal ModuleList<CausalLayer> Downsamples { get; }
    internal ModuleList<CausalLayer> Middle { get; }
    internal VaeRmsNorm HeadNorm { get; }
    internal CausalConv3d HeadConv { get; }

    /// <summary>Creates the encoder with random weights.</summary>
    public VaeEncoder3d(WanVaeConfig config, Device? device, ScalarType dtype) : base(nameof(VaeEncoder3d))
    {
        var dims = config.EncoderDims;
        Conv1 = CausalConv3d.Cubic(3, dims[0], 3, 1, device, dtype);
        Downsamples = new ModuleList<CausalLayer>();
        for (int stage = 0; stage < config.DimMult.Count; stage++)
        {
            long inDim = dims[stage], outDim = dims[stage + 1];
            for (int block = 0; block < config.NumResBlocks; block++, inDim = outDim)
                Downsamples.Add(new VaeResidualBlock(inDim, outDim, device, dtype));
            if (stage < config.DimMult.Count - 1)
                Downsamples.Add(new VaeResample(outDim, config.TemporalDownsample[stage] ? VaeResampleMode.Downsample3d : VaeResampleMode.Downsample2d, device, dtype));
        }
        long width = dims[^1];
        Middle = CausalLayers.Middle(width, device, dtype);
        HeadNorm = new VaeRmsNorm(width, images: false, bias: false, device, dtype);
        HeadConv = CausalConv3d.Cubic(width, 2 * config.ZDim, 3, 1, device, dtype);
        register_module("conv1", Conv1);
        register_module("downsamples", Downsamples);
        register_module("middle", Middle);
        register_module("head", new SequentialPositions((0, HeadNorm), (2, HeadConv)));
    }

    /// <summary>Encodes the next time chunk of a video; returns a new tensor.</summary>
    public Tensor Forward(Tensor x, CausalCache cache)
    {
        var h = Conv1.Forward(x, cache);
        h = CausalLayers.Run(Downsamples, h, cache);
        h = CausalLayers.Run(Middle, h, cache);
        return CausalLayers.Head(HeadNorm, HeadConv, h, cache);
    }
}
