using Svg2.Cuda.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>The CUDA driver's view of device memory (TorchSharp exposes no allocator statistics).</summary>
internal static class DeviceMemory
{
    /// <summary>
    /// Used bytes on the device after its queued work finishes, or -1 on a CPU device or without a driver.
    /// libtorch's caching allocator keeps what it reserved, so a figure after some work is the peak that
    /// work reserved (plus what was there before).
    /// </summary>
    public static long UsedBytes(Device device)
    {
        if (device.type != DeviceType.CUDA || !CudaDevice.IsAvailable(out _)) return -1;
        cuda.synchronize(device);
        var (free, total) = CudaDevice.Get(Math.Max(0, (int)device.index)).MemoryInfo();
        return total - free;
    }
}
