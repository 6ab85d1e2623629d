using Svg2.Models.Schedulers;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// Wan 2.1's rectified-flow objective: the noisy sample x_t = (1 - t) x0 + t noise at noise level t in
/// (0, 1), fed to the model with timestep 1000 t, and the flow target noise - x0 that the model predicts
/// (the samplers step along it), under a mean squared error.
/// </summary>
public static class FlowMatching
{
    /// <summary>Training timesteps per unit noise level (the model sees 1000 t).</summary>
    public const double TimestepScale = 1000;

    /// <summary>x_t for clean latents x0 [B, ...], noise of the same shape and levels t [B] (float32, on x0's device).</summary>
    public static Tensor NoisySample(Tensor x0, Tensor noise, Tensor levels)
    {
        using var t = Broadcastable(levels, x0);
        using var keep = 1 - t;
        using var clean = x0 * keep;
        using var noisy = noise * t;
        return clean + noisy;
    }

    /// <summary>The flow the model is trained to predict: noise - x0.</summary>
    public static Tensor Target(Tensor x0, Tensor noise) => noise - x0;

    /// <summary>Mean squared error over every element, float32 (a scalar tensor).</summary>
    public static Tensor Loss(Tensor predicted, Tensor target)
    {
        using var difference = predicted.to(ScalarType.Float32) - target.to(ScalarType.Float32);
        using var squared = difference.square();
        return squared.mean();
    }

    /// <summary>
    /// Draws <paramref name="count"/> noise levels from <paramref name="sampling"/> and applies the flow
    /// shift (t' = s t / (1 + (s - 1) t), the shift Wan's samplers apply to their levels), on the CPU.
    /// </summary>
    public static double[] DrawLevels(int count, TimestepSampling sampling, double shift, Generator generator)
    {
        using var drawn = sampling == TimestepSampling.LogitNormal
            ? randn([count], ScalarType.Float64, generator: generator).sigmoid()
            : rand([count], ScalarType.Float64, generator: generator);
        return drawn.data<double>().Select(t => FlowShift.Apply(t, shift)).ToArray();
    }

    static Tensor Broadcastable(Tensor levels, Tensor like)
    {
        var shape = new long[like.dim()];
        Array.Fill(shape, 1L);
        shape[0] = like.shape[0];
        return levels.to(ScalarType.Float32, like.device).view(shape);
    }
}
