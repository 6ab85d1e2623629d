using Svg2.Cuda.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Profiling;

/// <summary>
/// The CUDA driver's view of device memory (TorchSharp exposes no allocator statistics): bytes in use on
/// the device by every allocation, libtorch's caching allocator's reserve included, so a figure after some
/// work is the peak that work reserved (plus what was there before).
/// </summary>
public static class DeviceMemory
{
    /// <summary>Used bytes on the device after its queued work ends, or -1 on a CPU device or without a driver.</summary>
    public static long UsedBytes(Device device)
    {
        var (free, total) = Info(device);
        return free < 0 ? -1 : total - free;
    }

    /// <summary>Free bytes on the device, or -1 on a CPU device or without a driver.</summary>
    public static long FreeBytes(Device device) => Info(device).Free;

    static (long Free, long Total) Info(Device device)
    {
        if (device.type != DeviceType.CUDA || !CudaDevice.IsAvailable(out _)) return (-1, -1);
        cuda.synchronize(device);
        return CudaDevice.Get(Math.Max(0, (int)device.index)).MemoryInfo();
    }
}
