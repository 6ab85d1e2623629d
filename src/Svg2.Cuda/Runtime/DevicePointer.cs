using Svg2.Cuda.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cuda.Runtime;

/// <summary>A device address (<c>CUdeviceptr</c>) of a tensor's first element.</summary>
/// <param name="Address">The 64-bit device address.</param>
public readonly record struct DevicePointer(ulong Address)
{
    /// <summary>
    /// The address of a contiguous CUDA tensor of the expected dtype; anything else is a clear
    /// <see cref="ArgumentException"/> naming the argument.
    /// </summary>
    public static DevicePointer Of(Tensor tensor, ScalarType dtype, string name)
    {
        TensorChecks.Require(tensor, dtype, name);
        return new DevicePointer((ulong)TorchSharpNative.THSTensor_data(tensor.Handle));
    }

    /// <summary>
    /// The address of a [G, N, D] tensor whose rows are dense and whose problems are
    /// <paramref name="groupRows"/> rows apart (see <see cref="TensorChecks.GroupRowStride"/>).
    /// </summary>
    public static DevicePointer OfRows(Tensor tensor, ScalarType dtype, string name, out long groupRows)
    {
        groupRows = TensorChecks.GroupRowStride(tensor, dtype, name);
        return new DevicePointer((ulong)TorchSharpNative.THSTensor_data(tensor.Handle));
    }
}
