using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>
/// One weight matrix under the checkpoint key "weight": a linear layer without bias ([out, in]) or an
/// embedding table ([entries, width]). Created uninitialised, since checkpoints overwrite it: random
/// initialisation of umT5-XXL's 5.7 billion weights would cost seconds on a CPU for nothing.
/// </summary>
public sealed class UMT5Weight : UMT5WeightModule
{
    /// <summary>Creates an uninitialised [rows, columns] weight.</summary>
    public UMT5Weight(long rows, long columns, Device? device, ScalarType dtype)
        : base(nameof(UMT5Weight), empty(rows, columns, dtype: dtype, device: device))
    {
    }

    /// <summary>x W^T, in the dtype of x and W (which must agree, as in the reference's nn.Linear).</summary>
    public Tensor Linear(Tensor x) => nn.functional.linear(x, Weight);

    /// <summary>The rows at <paramref name="ids"/>: [.., width] for integer ids [..].</summary>
    public Tensor Lookup(Tensor ids)
    {
        using var flat = ids.reshape(-1);
        using var rows = Weight.index_select(0, flat);
        return rows.view([.. ids.shape, Weight.shape[1]]);
    }
}
