using System.Diagnostics;
using Svg2.Cuda.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Profiling;

/// <summary>
/// Marks on the device's timeline and the time between them: CUDA events on the legacy default stream
/// (where libtorch and the project's kernels run) on a GPU, so marking never waits for the device; a
/// stopwatch on the CPU, where every operation has finished when it returns.
/// </summary>
public sealed class DeviceTimeline : IDisposable
{
    readonly CudaDevice? _gpu;
    readonly List<CudaEvent> _events = [];
    readonly List<double> _cpuMarks = [];
    readonly Stopwatch _watch = Stopwatch.StartNew();

    /// <summary>A timeline for <paramref name="device"/>.</summary>
    public DeviceTimeline(Device device) =>
        _gpu = device.type == DeviceType.CUDA ? CudaDevice.Get(Math.Max(0, (int)device.index)) : null;

    /// <summary>Marks recorded since the last <see cref="Clear"/>.</summary>
    public int Count { get; private set; }

    /// <summary>Records a mark after all work enqueued so far; returns its index.</summary>
    public int Mark()
    {
        if (_gpu is null)
        {
            _cpuMarks.Add(_watch.Elapsed.TotalMilliseconds);
        }
        else
        {
            // Events are reused across clears: creating one per mark would cost more than recording it.
            if (Count == _events.Count) _events.Add(new CudaEvent(_gpu));
            _events[Count].Record();
        }
        return Count++;
    }

    /// <summary>Milliseconds from mark <paramref name="from"/> to mark <paramref name="to"/>, waiting for the later one on a GPU.</summary>
    public double Between(int from, int to) =>
        _gpu is null ? _cpuMarks[to] - _cpuMarks[from] : CudaEvent.Elapsed(_events[from], _events[to]);

    /// <summary>Forgets the marks (keeping the events for reuse).</summary>
    public void Clear()
    {
        Count = 0;
        _cpuMarks.Clear();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var e in _events) e.Dispose();
        _events.Clear();
    }
}
