using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cuda.Runtime;

/// <summary>Argument checks before a launch: kernels assume CUDA memory, a dtype and a dense row-major layout.</summary>
public static class TensorChecks
{
    /// <summary>Throws unless the tensor is a contiguous CUDA tensor of <paramref name="dtype"/>.</summary>
    public static void Require(Tensor tensor, ScalarType dtype, string name)
    {
        if (tensor.device_type != DeviceType.CUDA)
            throw new ArgumentException($"{name} must be on a CUDA device for the CUDA backend; it is on {tensor.device}.", name);
        if (tensor.dtype != dtype)
            throw new ArgumentException($"{name} must be {dtype}; got {tensor.dtype}.", name);
        if (!tensor.is_contiguous())
            throw new ArgumentException($"{name} must be contiguous (row-major); call .contiguous() first. Shape [{string.Join(", ", tensor.shape)}].", name);
    }

    /// <summary>
    /// Rows between the first rows of consecutive problems of a [G, N, D] CUDA tensor of
    /// <paramref name="dtype"/> whose rows are dense: N when it is contiguous, R when it holds the
    /// leading N rows of a contiguous [G, R, D] tensor (<c>x.narrow(1, 0, N)</c>, the video rows before
    /// trailing text rows). Any other layout throws, naming the tensor.
    /// </summary>
    public static long GroupRowStride(Tensor tensor, ScalarType dtype, string name)
    {
        if (tensor.dim() != 3)
            throw new ArgumentException($"{name} must be [G, N, D]; got [{string.Join(", ", tensor.shape)}].", name);
        if (tensor.is_contiguous() || tensor.device_type != DeviceType.CUDA || tensor.dtype != dtype)
        {
            Require(tensor, dtype, name);
            return tensor.shape[1];
        }
        long rows = tensor.shape[1], width = tensor.shape[2];
        var stride = tensor.stride();
        if (stride[2] == 1 && stride[1] == width && stride[0] % width == 0 && stride[0] >= rows * width) return stride[0] / width;
        throw new ArgumentException($"{name} must be contiguous (row-major), or the leading rows of a contiguous [G, R, D] tensor; " +
                                    $"shape [{string.Join(", ", tensor.shape)}] has strides [{string.Join(", ", stride)}]. Call .contiguous() first.", name);
    }

    /// <summary>Throws unless the tensor has the given shape.</summary>
    public static void RequireShape(Tensor tensor, string name, params long[] shape)
    {
        if (!tensor.shape.SequenceEqual(shape))
            throw new ArgumentException($"{name} must have shape [{string.Join(", ", shape)}]; got [{string.Join(", ", tensor.shape)}].", name);
    }

    /// <summary>The element types the kernels are compiled for.</summary>
    public static bool IsSupportedElement(ScalarType dtype) => dtype is ScalarType.BFloat16 or ScalarType.Float16;

    /// <summary>The head dimensions the kernels are compiled for.</summary>
    public static bool IsSupportedHeadDim(long headDim) => headDim is 64 or 128;

    /// <summary>
    /// Throws unless q/k/v-like [G, N, D] inputs fit the kernels: CUDA, bf16/fp16, D 64 or 128, and
    /// contiguous or the leading rows of a contiguous tensor (<see cref="GroupRowStride"/>).
    /// </summary>
    public static void RequirePoints(Tensor points, string name)
    {
        if (points.dim() != 3)
            throw new ArgumentException($"{name} must be [G, N, D]; got [{string.Join(", ", points.shape)}].", name);
        if (!IsSupportedElement(points.dtype))
            throw new ArgumentException($"{name} must be BFloat16 or Float16 for the CUDA kernels; got {points.dtype}.", name);
        if (!IsSupportedHeadDim(points.shape[2]))
            throw new ArgumentException($"{name} has head dimension {points.shape[2]}; the CUDA kernels are compiled for 64 and 128 only.", name);
        GroupRowStride(points, points.dtype, name);
    }
}
