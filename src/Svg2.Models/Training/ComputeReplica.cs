using Svg2.Models.Small;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// Mixed precision without autocast (TorchSharp has none): the optimiser owns float32 master weights; every
/// step runs its forward and backward on a copy of them in the compute dtype, and the copy's gradients,
/// converted to float32, become the master weights' gradients. That is what bf16 autocast computes for the
/// matrix products (weights rounded to bf16 for the product, gradients produced in bf16 and accumulated into
/// float32), with the norms' and modulation's weights rounded to bf16 too, as the shipped bf16 model has
/// them. With float32 compute the copy is the master model itself.
/// </summary>
public sealed class ComputeReplica : IDisposable
{
    readonly SmallVideoModel _master;
    readonly bool _owned;

    /// <summary>Creates the replica of <paramref name="master"/> in <paramref name="dtype"/> (no copy for float32 masters and float32 compute).</summary>
    public ComputeReplica(SmallVideoModel master, ScalarType dtype)
    {
        _master = master;
        _owned = dtype != master.WeightType;
        Model = _owned ? new SmallVideoModel(master.Config, master.Codec.Normalisation, master.Sampling, master.Device, dtype) : master;
        Model.RequireGradients(true);
        master.RequireGradients(true);
    }

    /// <summary>The model the forward and backward run on.</summary>
    public SmallVideoModel Model { get; }

    /// <summary>Copies the master weights into the replica (before each forward).</summary>
    public void Refresh()
    {
        if (_owned) Model.CopyFrom(_master);
    }

    /// <summary>Hands the replica's gradients to the master weights as float32 (after each backward).</summary>
    public void MoveGradientsToMaster()
    {
        if (!_owned) return;
        using var scope = NewDisposeScope();
        foreach (var ((_, master), (_, replica)) in _master.named_parameters().Zip(Model.named_parameters()))
        {
            var gradient = replica.grad;
            master.grad = gradient?.to(ScalarType.Float32);
            replica.grad = null;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_owned) Model.Dispose();
    }
}
