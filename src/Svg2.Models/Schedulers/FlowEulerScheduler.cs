using static TorchSharp.torch;

namespace Svg2.Models.Schedulers;

/// <summary>
/// First-order (Euler) flow-matching sampler with shifted noise levels: sigmas are
/// linspace(1, 0, steps + 1) without the last, shifted, then 0 (Wan's get_sampling_sigmas), and
/// x_next = x + (sigma_next - sigma) flow.
/// </summary>
public sealed class FlowEulerScheduler : IFlowScheduler
{
    readonly double[] _sigmas;
    readonly double[] _timesteps;

    /// <summary>Creates the schedule.</summary>
    public FlowEulerScheduler(int steps, double shift = FlowShift.WanDefault, int trainTimesteps = 1000)
    {
        if (steps < 1) throw new ArgumentException($"Step count must be at least 1 (got {steps}).");
        _sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++) _sigmas[i] = FlowShift.Apply(1.0 - (double)i / steps, shift);
        _timesteps = _sigmas.Take(steps).Select(s => s * trainTimesteps).ToArray();
    }

    /// <inheritdoc />
    public IReadOnlyList<double> Timesteps => _timesteps;

    /// <inheritdoc />
    public IReadOnlyList<double> Sigmas => _sigmas;

    /// <inheritdoc />
    public Tensor Step(Tensor flow, int stepIndex, Tensor sample)
    {
        if (stepIndex < 0 || stepIndex >= _timesteps.Length) throw new ArgumentOutOfRangeException(nameof(stepIndex), $"Step {stepIndex} is outside 0..{_timesteps.Length - 1}.");
        using var scaled = flow.to(sample.dtype) * (_sigmas[stepIndex + 1] - _sigmas[stepIndex]);
        return sample + scaled;
    }

    /// <inheritdoc />
    public void Reset() { }
}
