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

    /// <summary>Throws unless q/k/v-like [G, N, D] inputs fit the kernels (CUDA, bf16/fp16, D 64 or 128, contiguous).</summary>
    public static void RequirePoints(Tensor points, string name)
    {
        if (points.dim() != 3)
            throw new ArgumentException($"{name} must be [G, N, D]; got [{string.Join(", ", points.shape)}].", name);
        if (!IsSupportedElement(points.dtype))
            throw new ArgumentException($"{name} must be BFloat16 or Float16 for the CUDA kernels; got {points.dtype}.", name);
        if (!IsSupportedHeadDim(points.shape[2]))
            throw new ArgumentException($"{name} has head dimension {points.shape[2]}; the CUDA kernels are compiled for 64 and 128 only.", name);
        Require(points, points.dtype, name);
    }
}
