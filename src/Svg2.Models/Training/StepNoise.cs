using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// The Gaussian noise of each training step, drawn on the training device from a generator seeded anew from the
/// run's seed and the step: the noise is a function of the two alone, so a resumed run draws what an
/// uninterrupted one would, with no generator state to save. On CUDA it is the device's default generator that is
/// reseeded, since TorchSharp 0.107 creates every <see cref="Generator"/> on the CPU.
/// </summary>
public sealed class StepNoise : IDisposable
{
    readonly long _seed;
    readonly Device _device;
    readonly Generator? _host;

    /// <summary>Noise for a run of <paramref name="seed"/> on <paramref name="device"/> (the CPU or CUDA).</summary>
    /// <exception cref="NotSupportedException">Another device type.</exception>
    public StepNoise(long seed, Device device)
    {
        if (device.type is not (DeviceType.CPU or DeviceType.CUDA))
            throw new NotSupportedException($"Training noise is drawn on the CPU or on CUDA, not on {device}.");
        _seed = seed;
        _device = device;
        _host = device.type == DeviceType.CPU ? new Generator(0) : null;
    }

    /// <summary>Standard normal float32 noise of <paramref name="shape"/> for optimiser step <paramref name="step"/> (from 0).</summary>
    public Tensor Draw(long[] shape, int step)
    {
        long seed = SeedOf(_seed, step);
        if (_host is not null)
        {
            _host.manual_seed(seed);
            return randn(shape, ScalarType.Float32, CPU, generator: _host);
        }
        cuda.manual_seed_all(seed);
        return randn(shape, ScalarType.Float32, _device);
    }

    /// <summary>The generator seed of a step: SplitMix64 of the run's seed and the step, non-negative.</summary>
    public static long SeedOf(long runSeed, int step)
    {
        ulong z = unchecked((ulong)runSeed * 0x9E3779B97F4A7C15UL + (ulong)step + 0x632BE59BD9B4E019UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return (long)((z ^ (z >> 31)) >> 1);
    }

    /// <inheritdoc/>
    public void Dispose() => _host?.Dispose();
}
