using Svg2.Cuda.Interop;
using Svg2.Cuda.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Kernels;

/// <summary>Picks the block kernels for a model's device and dtype, and says why when the fused ones cannot run.</summary>
public static class WanBlockKernelChoice
{
    /// <summary>
    /// The fused CUDA kernels for bf16/fp16 weights on a CUDA device whose driver and NVRTC work (the
    /// kernels are compiled here, once per process); the portable operations otherwise, with the reason.
    /// </summary>
    public static IWanBlockKernels For(Device device, ScalarType dtype, out string? reason)
    {
        if (device.type != DeviceType.CUDA)
        {
            reason = $"the model is on {device}, not a CUDA device";
            return TorchWanBlockKernels.Instance;
        }
        if (!TensorChecks.IsSupportedElement(dtype))
        {
            reason = $"the fused kernels take bf16 or fp16 activations, not {dtype}";
            return TorchWanBlockKernels.Instance;
        }
        if (!CudaToolchain.IsAvailable(out reason)) return TorchWanBlockKernels.Instance;
        try
        {
            KernelLibrary.For(CudaDevice.Get(Math.Max(0, (int)device.index)), dtype, 128);
        }
        catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            reason = $"the CUDA kernels could not be compiled or loaded: {e.Message}";
            return TorchWanBlockKernels.Instance;
        }
        reason = null;
        return CudaWanBlockKernels.Instance;
    }
}
