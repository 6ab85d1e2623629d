using Svg2.Models.Small;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// A float32 moving average of a model's weights, updated after every optimiser step as
/// avg = d avg + (1 - d) w with d = min(decay, (1 + step) / (10 + step)), so that early averages follow
/// the fast-changing weights instead of staying near the initialisation.
/// </summary>
public sealed class ExponentialMovingAverage
{
    readonly double _decay;

    /// <summary>Averages into <paramref name="average"/>, a model of the trained configuration (its weights are the starting average).</summary>
    public ExponentialMovingAverage(SmallVideoModel average, double decay)
    {
        if (!(decay >= 0 && decay < 1)) throw new ArgumentException($"EMA decay must lie in [0, 1) (got {decay}).");
        Model = average;
        _decay = decay;
    }

    /// <summary>The averaged model.</summary>
    public SmallVideoModel Model { get; }

    /// <summary>The decay used after optimiser step <paramref name="step"/> (counted from 0).</summary>
    public double DecayAt(int step) => Math.Min(_decay, (1.0 + step) / (10.0 + step));

    /// <summary>Moves the average towards <paramref name="weights"/> after optimiser step <paramref name="step"/>.</summary>
    public void Update(SmallVideoModel weights, int step)
    {
        double decay = DecayAt(step);
        using var noGrad = no_grad();
        foreach (var ((_, average), (_, current)) in Model.named_parameters().Zip(weights.named_parameters()))
        {
            average.mul_(decay);
            average.add_(current, alpha: 1 - decay);
        }
    }
}
