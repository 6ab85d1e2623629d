using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Clip;

/// <summary>A block's MLP: linear, exact GELU, linear (checkpoint keys 0 and 2, as the public nn.Sequential numbers them).</summary>
public sealed class ClipMlp : nn.Module
{
    internal Linear First { get; }
    internal Linear Second { get; }

    /// <summary>Creates the layers, uninitialised.</summary>
    public ClipMlp(ClipVisionConfig config, Device? device, ScalarType dtype) : base(nameof(ClipMlp))
    {
        First = nn.Linear(config.Dim, config.MlpDim, device: device, dtype: dtype);
        Second = nn.Linear(config.MlpDim, config.Dim, device: device, dtype: dtype);
        register_module("0", First);
        register_module("2", Second);
    }

    /// <summary>x [B, L, dim] to the same, in the weights' dtype.</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Second.forward(nn.functional.gelu(First.forward(x))).MoveToOuterDisposeScope();
    }
}
