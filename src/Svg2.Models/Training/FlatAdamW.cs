using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// AdamW (decoupled weight decay, no AMSGrad) over a <see cref="ParameterBuffer"/>: the element-wise
/// arithmetic of torch.optim.AdamW and TorchSharp's AdamW, in the same order, as seven operations on the whole
/// buffer instead of seven per parameter tensor. Written here because TorchSharp exposes neither libtorch's
/// fused nor its multi-tensor AdamW.
/// </summary>
public sealed class FlatAdamW : IDisposable
{
    readonly ParameterBuffer _parameters;
    readonly double _beta1, _beta2, _epsilon, _weightDecay;

    /// <summary>An optimiser with zero moments over the parameters (and gradients) of <paramref name="parameters"/>.</summary>
    public FlatAdamW(ParameterBuffer parameters, double beta1, double beta2, double epsilon, double weightDecay)
    {
        // A buffer made without gradients cannot be optimised: reading them throws and says so.
        _ = parameters.Gradients;
        _parameters = parameters;
        (_beta1, _beta2, _epsilon, _weightDecay) = (beta1, beta2, epsilon, weightDecay);
        FirstMoment = zeros_like(parameters.Values).DetachFromDisposeScope();
        SecondMoment = zeros_like(parameters.Values).DetachFromDisposeScope();
    }

    /// <summary>Steps taken (the bias corrections' exponent).</summary>
    public long Steps { get; set; }

    /// <summary>[P] the gradients' moving average ("exp_avg").</summary>
    public Tensor FirstMoment { get; }

    /// <summary>[P] the squared gradients' moving average ("exp_avg_sq").</summary>
    public Tensor SecondMoment { get; }

    /// <summary>
    /// Scales the gradients to a Euclidean norm of at most <paramref name="maxNorm"/>, as torch.nn.utils.clip_grad_norm_
    /// (factor maxNorm / (norm + 1e-6), capped at 1), and returns their norm before scaling (a read from the device).
    /// </summary>
    public double ClipGradientNorm(double maxNorm)
    {
        using var scope = NewDisposeScope();
        using Scalar limit = maxNorm.ToScalar(), guard = 1e-6.ToScalar(), cap = 1.0.ToScalar();
        var gradients = _parameters.Gradients;
        var norm = gradients.norm();
        gradients.mul_(norm.add(guard).reciprocal_().mul_(limit).clamp_max_(cap));
        return norm.item<float>();
    }

    /// <summary>One AdamW step at <paramref name="learningRate"/> from the current gradients.</summary>
    public void Step(double learningRate)
    {
        using var scope = NewDisposeScope();
        Steps++;
        var (values, gradients) = (_parameters.Values, _parameters.Gradients);
        double firstCorrection = 1 - Math.Pow(_beta1, Steps), secondCorrection = 1 - Math.Pow(_beta2, Steps);
        // Scalars made here and disposed after the step: an implicitly converted one can be finalised in the middle of its native call.
        using Scalar decay = (1 - learningRate * _weightDecay).ToScalar(), beta1 = _beta1.ToScalar(), firstWeight = (1 - _beta1).ToScalar(),
            beta2 = _beta2.ToScalar(), secondWeight = (1 - _beta2).ToScalar(), correction = Math.Sqrt(secondCorrection).ToScalar(),
            epsilon = _epsilon.ToScalar(), stepSize = (-(learningRate / firstCorrection)).ToScalar();
        using var noGrad = no_grad();
        values.mul_(decay);
        FirstMoment.mul_(beta1).add_(gradients, alpha: firstWeight);
        SecondMoment.mul_(beta2).addcmul_(gradients, gradients, value: secondWeight);
        var denominator = SecondMoment.sqrt().div_(correction).add_(epsilon);
        values.addcdiv_(FirstMoment, denominator, value: stepSize);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        FirstMoment.Dispose();
        SecondMoment.Dispose();
    }
}
