using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Profiling;

/// <summary>
/// The CUDA driver's view of device memory (TorchSharp exposes no allocator statistics): bytes in use on
/// the device by every allocation of the process, the caching allocator's reserve included.
/// </summary>
public static partial class DeviceMemory
{
    [LibraryImport("libcuda.so.1", EntryPoint = "cuMemGetInfo_v2")]
    private static partial int MemGetInfo(out nuint free, out nuint total);

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
        if (device.type != DeviceType.CUDA) return (-1, -1);
        try
        {
            cuda.synchronize(device);
            return MemGetInfo(out var free, out var total) == 0 ? ((long)free, (long)total) : (-1, -1);
        }
        catch (DllNotFoundException)
        {
            return (-1, -1);
        }
    }
}
