using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>
/// T5's gated-GELU feed-forward: fc2(fc1(x) * gelu(gate(x))), with the tanh approximation of GELU
/// written out as the reference writes it, so that bf16 rounds after each operation as there.
/// Checkpoint keys gate.0, fc1 and fc2 (transformers: wi_0, wi_1 and wo).
/// </summary>
public sealed class UMT5FeedForward : nn.Module
{
    internal UMT5Weight Gate { get; }
    internal UMT5Weight Fc1 { get; }
    internal UMT5Weight Fc2 { get; }

    /// <summary>Creates the layers, uninitialised.</summary>
    public UMT5FeedForward(UMT5Config config, Device? device, ScalarType dtype) : base(nameof(UMT5FeedForward))
    {
        Gate = new UMT5Weight(config.FeedForwardDim, config.Dim, device, dtype);
        Fc1 = new UMT5Weight(config.FeedForwardDim, config.Dim, device, dtype);
        Fc2 = new UMT5Weight(config.Dim, config.FeedForwardDim, device, dtype);
        // The reference's gate is nn.Sequential(Linear, GELU): its linear layer is entry "0".
        register_module("gate", new ModuleList<UMT5Weight>(Gate));
        register_module("fc1", Fc1);
        register_module("fc2", Fc2);
    }

    /// <summary>x [.., dim] in the weights' dtype to [.., dim].</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var hidden = Fc1.Linear(x) * GeluTanh(Gate.Linear(x));
        return Fc2.Linear(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), one operation at a time.</summary>
    public static Tensor GeluTanh(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inner = (x + x.pow(3.0) * 0.044715) * Math.Sqrt(2.0 / Math.PI);
        return (x * 0.5 * (inner.tanh() + 1.0)).MoveToOuterDisposeScope();
    }
}
