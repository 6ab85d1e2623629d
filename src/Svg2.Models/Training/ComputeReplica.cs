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
    readonly ParameterBuffer _master;
    readonly ParameterBuffer? _replica;

    /// <summary>
    /// Creates the replica of <paramref name="master"/>, whose parameters and gradients are in <paramref name="masterBuffer"/>,
    /// in <paramref name="dtype"/> (no copy for float32 masters and float32 compute: then the master model is the replica).
    /// </summary>
    public ComputeReplica(SmallVideoModel master, ParameterBuffer masterBuffer, ScalarType dtype)
    {
        _master = masterBuffer;
        master.RequireGradients(true);
        if (dtype == master.WeightType)
        {
            Model = master;
            return;
        }
        Model = new SmallVideoModel(master.Config, master.Codec.Normalisation, master.Sampling, master.Device, dtype);
        Model.RequireGradients(true);
        _replica = ParameterBuffer.Flatten(Model, gradients: true);
    }

    /// <summary>The model the forward and backward run on.</summary>
    public SmallVideoModel Model { get; }

    /// <summary>Copies the master weights into the replica (before each forward): one conversion of the whole buffer.</summary>
    public void Refresh()
    {
        using var noGrad = no_grad();
        _replica?.Values.copy_(_master.Values);
    }

    /// <summary>Hands the replica's gradients to the master weights as float32 and zeroes the replica's (after each backward).</summary>
    public void MoveGradientsToMaster()
    {
        if (_replica is null) return;
        _master.Gradients.copy_(_replica.Gradients);
        _replica.ZeroGradients();
    }

    /// <summary>Drops the gradients of the last backward (a step that will not be taken).</summary>
    public void DiscardGradients() => (_replica ?? _master).ZeroGradients();

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_replica is null) return;
        Model.Dispose();
        _replica.Dispose();
    }
}
