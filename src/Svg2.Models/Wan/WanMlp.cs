using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// Linear, activation, linear, with the checkpoint keys of a PyTorch Sequential ("0" and "2"): Wan's
/// feed-forward (ffn), text embedding and time embedding.
/// </summary>
public sealed class WanMlp : nn.Module
{
    readonly WanActivation _activation;

    internal Linear First { get; }
    internal Linear Second { get; }

    /// <summary>Creates the MLP.</summary>
    public WanMlp(long inDim, long hiddenDim, long outDim, WanActivation activation, Device? device, ScalarType dtype) : base(nameof(WanMlp))
    {
        _activation = activation;
        First = nn.Linear(inDim, hiddenDim, device: device, dtype: dtype);
        Second = nn.Linear(hiddenDim, outDim, device: device, dtype: dtype);
        register_module("0", First);
        register_module("2", Second);
    }

    /// <summary>Runs in the weights' dtype, marking its products and activation for a profiler when <paramref name="run"/> has one.</summary>
    public Tensor Forward(Tensor x, WanBlockRun? run = null)
    {
        run?.Enter(Profiling.WanOpClass.Gemm);
        using var hidden = First.ApplyInWeightType(x);
        run?.Enter(Profiling.WanOpClass.Elementwise);
        using var activated = Activate(hidden, _activation);
        run?.Enter(Profiling.WanOpClass.Gemm);
        return Second.ApplyInWeightType(activated);
    }

    /// <summary>Runs in float32 whatever the weights' dtype.</summary>
    public Tensor ForwardInFloat32(Tensor x)
    {
        using var hidden = First.ApplyInFloat32(x);
        using var activated = Activate(hidden, _activation);
        return Second.ApplyInFloat32(activated);
    }

    internal static Tensor Activate(Tensor x, WanActivation activation) => activation switch
    {
        WanActivation.GeluTanh => nn.functional.gelu(x, GELU.Approximate.tanh),
        WanActivation.Gelu => nn.functional.gelu(x),
        WanActivation.Silu => nn.functional.silu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation)),
    };
}
