using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>The 3D convolution every VAE layer runs through.</summary>
internal static class VaeConvolution
{
    /// <summary>
    /// nn.functional.conv3d, except for bf16 on the CPU: there libtorch's bf16 convolution returns wrong
    /// values for some shapes (relative errors of 30% to 100% with few channels and 3-wide kernels, measured
    /// with TorchSharp 0.107's CPU libtorch, against 0.3% for others), so the convolution runs in float32
    /// on the bf16 values and rounds its output to bf16, which is what a bf16 convolution that accumulates
    /// in float32 computes. GPUs take the plain path.
    /// </summary>
    public static Tensor Conv3d(Tensor input, Tensor weight, Tensor? bias, long[] strides, long[] padding)
    {
        if (input.dtype != ScalarType.BFloat16 || input.device_type != DeviceType.CPU)
            return nn.functional.conv3d(input, weight, bias, strides, padding);
        using var scope = NewDisposeScope();
        var output = nn.functional.conv3d(input.to(ScalarType.Float32), weight.to(ScalarType.Float32), bias?.to(ScalarType.Float32), strides, padding);
        return output.to(ScalarType.BFloat16).MoveToOuterDisposeScope();
    }
}
