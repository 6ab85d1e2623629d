using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// SiLU then a linear layer to the six modulation vectors of every block (checkpoint key "1", as in a
/// PyTorch Sequential whose element 0 is the SiLU).
/// </summary>
public sealed class WanTimeProjection : nn.Module
{
    internal Linear Linear { get; }

    /// <summary>Creates the projection from dim to 6 x dim.</summary>
    public WanTimeProjection(long dim, Device? device, ScalarType dtype) : base(nameof(WanTimeProjection))
    {
        Linear = nn.Linear(dim, 6 * dim, device: device, dtype: dtype);
        register_module("1", Linear);
    }

    /// <summary>[B, dim] to [B, 6 x dim], in float32 as the reference runs it.</summary>
    public Tensor Forward(Tensor embedding)
    {
        using var activated = nn.functional.silu(embedding);
        return Linear.ApplyInFloat32(activated);
    }
}
