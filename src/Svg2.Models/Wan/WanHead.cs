using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// The output head: LayerNorm, modulation by shift and scale (its learned [1, 2, dim] plus the time
/// embedding), and a linear layer to prod(patch) x out_dim channels, in float32 as the reference runs it.
/// Checkpoint keys: head.weight/bias, modulation.
/// </summary>
public sealed class WanHead : nn.Module
{
    readonly double _eps;

    internal Linear Linear { get; }
    internal Parameter Modulation { get; }

    /// <summary>Creates the head.</summary>
    public WanHead(WanConfig config, Device? device, ScalarType dtype) : base(nameof(WanHead))
    {
        _eps = config.Eps;
        long outChannels = (long)config.PatchSize.Frames * config.PatchSize.Height * config.PatchSize.Width * config.OutDim;
        Linear = nn.Linear(config.Dim, outChannels, device: device, dtype: dtype);
        Modulation = new Parameter(randn(1, 2, config.Dim, dtype: dtype, device: device) / Math.Sqrt(config.Dim));
        register_module("head", Linear);
        register_parameter("modulation", Modulation);
    }

    /// <summary>
    /// x [B, S, dim], timeEmbedding [B, dim] float32; returns [B, S, channels] float32. Reference numerics
    /// normalise, modulate and project in float32; fast numerics, as diffusers, round the modulated
    /// norm (computed in float32) to x's dtype and project in the weights' dtype.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor timeEmbedding, WanNumerics numerics, Kernels.IWanBlockKernels kernels)
    {
        using var scope = NewDisposeScope();
        var e = Modulation.to(ScalarType.Float32) + timeEmbedding.unsqueeze(1);
        if (numerics == WanNumerics.Fast)
        {
            var normalised = kernels.ModulatedLayerNorm(x, null, null, e.select(1, 0).contiguous(), e.select(1, 1).contiguous(), _eps);
            return Linear.ApplyInWeightType(normalised).to(ScalarType.Float32).MoveToOuterDisposeScope();
        }
        var modulated = WanNorms.LayerNorm(x, null, null, _eps) * (1 + e.narrow(1, 1, 1)) + e.narrow(1, 0, 1);
        return Linear.ApplyInFloat32(modulated).MoveToOuterDisposeScope();
    }
}
