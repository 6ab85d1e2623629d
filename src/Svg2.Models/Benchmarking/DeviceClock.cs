using TorchSharp;
using System.Diagnostics;
using static TorchSharp.torch;

namespace Svg2.Models.Benchmarking;

/// <summary>Wall-clock time of device work: synchronises a CUDA device before reading the clock.</summary>
public sealed class DeviceClock(Device device)
{
    readonly Stopwatch _watch = Stopwatch.StartNew();

    /// <summary>Milliseconds since the clock was created, after all queued device work has finished.</summary>
    public double NowMs()
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
        return _watch.Elapsed.TotalMilliseconds;
    }
}
