using TorchSharp;
using Svg2.Models.Small;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// A float32 moving average of a model's weights, updated after every optimiser step as
/// avg = d avg + (1 - d) w with d = min(decay, (1 + step) / (10 + step)), so that early averages follow
/// the fast-changing weights instead of staying near the initialisation.
/// </summary>
public sealed class ExponentialMovingAverage : IDisposable
{
    readonly double _decay;
    readonly ParameterBuffer _buffer;

    /// <summary>Averages into <paramref name="average"/>, a model of the trained configuration (its weights are the starting average), whose parameters move into one buffer.</summary>
    public ExponentialMovingAverage(SmallVideoModel average, double decay)
    {
        if (!(decay >= 0 && decay < 1)) throw new ArgumentException($"EMA decay must lie in [0, 1) (got {decay}).");
        Model = average;
        _decay = decay;
        _buffer = ParameterBuffer.Flatten(average, gradients: false);
    }

    /// <summary>The averaged model.</summary>
    public SmallVideoModel Model { get; }

    /// <summary>The decay used after optimiser step <paramref name="step"/> (counted from 0).</summary>
    public double DecayAt(int step) => Math.Min(_decay, (1.0 + step) / (10.0 + step));

    /// <summary>Moves the average towards <paramref name="weights"/> (the parameters of a model of the same configuration) after optimiser step <paramref name="step"/>.</summary>
    public void Update(ParameterBuffer weights, int step)
    {
        if (weights.Values.numel() != _buffer.Values.numel() || weights.Values.dtype != _buffer.Values.dtype)
            throw new ArgumentException($"The weights ({weights.Values.numel()} {weights.Values.dtype} elements) are not those of the averaged model " +
                $"({_buffer.Values.numel()} {_buffer.Values.dtype}).", nameof(weights));
        double decay = DecayAt(step);
        using Scalar kept = decay.ToScalar(), moved = (1 - decay).ToScalar();
        using var noGrad = no_grad();
        _buffer.Values.mul_(kept).add_(weights.Values, alpha: moved);
    }

    /// <summary>Frees the buffer (the model's parameters are views of it: dispose the model too).</summary>
    public void Dispose() => _buffer.Dispose();
}
