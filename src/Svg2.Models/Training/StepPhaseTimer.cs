using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// Wall time of each phase of training steps (batch, forward, backward, optimiser, average), waiting for
/// the device at every phase boundary so queued work is counted in its phase. The waits slow the steps
/// a little: for profiling, not for training runs.
/// </summary>
public sealed class StepPhaseTimer
{
    readonly Device _device;
    readonly Stopwatch _clock = new();
    readonly Dictionary<string, double> _milliseconds = [];

    /// <summary>Times steps on <paramref name="device"/>.</summary>
    public StepPhaseTimer(Device device) => _device = device;

    /// <summary>Phase names in the order first seen.</summary>
    public IReadOnlyList<string> Phases => _milliseconds.Keys.ToList();

    /// <summary>Total milliseconds per phase over the timed steps.</summary>
    public IReadOnlyDictionary<string, double> Milliseconds => _milliseconds;

    /// <summary>Steps timed.</summary>
    public int Steps { get; private set; }

    /// <summary>Forgets what was timed (after warm-up steps).</summary>
    public void Reset()
    {
        _milliseconds.Clear();
        Steps = 0;
    }

    internal void Begin()
    {
        Synchronize();
        Steps++;
        _clock.Restart();
    }

    internal void Mark(string phase)
    {
        Synchronize();
        _milliseconds[phase] = _milliseconds.GetValueOrDefault(phase) + _clock.Elapsed.TotalMilliseconds;
        _clock.Restart();
    }

    void Synchronize()
    {
        if (_device.type == DeviceType.CUDA) cuda.synchronize(_device);
    }
}
