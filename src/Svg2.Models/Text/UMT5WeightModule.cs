using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>
/// A module with one parameter under the checkpoint key "weight", which it can move to another device
/// at once, freeing the old copy (so that an encoder can leave the GPU before denoising starts).
/// </summary>
public abstract class UMT5WeightModule : nn.Module
{
    Parameter _weight;

    /// <summary>The parameter (replaced by <see cref="MoveTo"/>; do not keep it across moves).</summary>
    public Parameter Weight => _weight;

    /// <summary>Registers <paramref name="weight"/> as "weight", not requiring gradients.</summary>
    protected UMT5WeightModule(string name, Tensor weight) : base(name)
    {
        _weight = new Parameter(weight, requires_grad: false);
        register_parameter("weight", _weight);
    }

    /// <summary>Moves the weight to <paramref name="device"/> and disposes the old copy.</summary>
    internal void MoveTo(Device device)
    {
        using var noGrad = no_grad();
        var moved = new Parameter(_weight.to(device), requires_grad: false);
        _weight.Dispose();
        _weight = moved;
        ConditionallyRegisterParameter("weight", moved);
    }
}
