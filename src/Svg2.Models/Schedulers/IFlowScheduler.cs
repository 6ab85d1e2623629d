using static TorchSharp.torch;

namespace Svg2.Models.Schedulers;

/// <summary>
/// A sampler for a flow-matching model, x_sigma = (1 - sigma) x0 + sigma noise, whose network predicts
/// the flow (noise - x0). Steps are taken in order, once each, from step 0.
/// </summary>
public interface IFlowScheduler
{
    /// <summary>The timestep fed to the model at each step (sigma x 1000, as the model was trained).</summary>
    IReadOnlyList<double> Timesteps { get; }

    /// <summary>Noise levels: one per step, then the final level (0).</summary>
    IReadOnlyList<double> Sigmas { get; }

    /// <summary>The sample after step <paramref name="stepIndex"/>, given the flow predicted at it.</summary>
    Tensor Step(Tensor flow, int stepIndex, Tensor sample);

    /// <summary>Forgets the history of a multistep method, for a new video.</summary>
    void Reset();
}
