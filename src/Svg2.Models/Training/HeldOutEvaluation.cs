using Svg2.Models.Small;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// The flow-matching loss on held-out clips at fixed noise levels t_k = (k + 1/2) / K with fixed noise,
/// each clip conditioned on its own source: the same examples at every evaluation, in every run (the noise
/// comes from a constant seed, drawn on the CPU), so losses compare across training time, across runs and
/// against the untrained model. The mean weighs the levels equally.
/// </summary>
public sealed class HeldOutEvaluation : IDisposable
{
    /// <summary>Seed of the held-out noise, the same for every run.</summary>
    public const long NoiseSeed = 20_261_205;

    readonly Tensor _latents;
    readonly Tensor _sources;
    readonly Tensor[] _noise;
    readonly int _batch;

    /// <summary>Prepares the evaluation of clean latents [N, C, F, h, w] with source indices [N] at <paramref name="levels"/> noise levels, in batches of <paramref name="batch"/>.</summary>
    public HeldOutEvaluation(Tensor latents, Tensor sources, int levels, int batch)
    {
        if (levels < 1) throw new ArgumentException($"Held-out noise levels must be at least 1 (got {levels}).");
        _latents = latents.alias();
        _sources = sources.alias();
        _batch = Math.Max(1, batch);
        Levels = Enumerable.Range(0, levels).Select(k => (k + 0.5) / levels).ToArray();
        using var generator = new Generator((ulong)NoiseSeed);
        _noise = Levels.Select(_ =>
        {
            using var host = randn(latents.shape, ScalarType.Float32, generator: generator);
            return host.to(latents.device);
        }).ToArray();
    }

    /// <summary>The noise levels, ascending.</summary>
    public IReadOnlyList<double> Levels { get; }

    /// <summary>Held-out clips.</summary>
    public long Clips => _latents.shape[0];

    /// <summary>The loss at every level and their mean, for the model in its own numerics (no gradients).</summary>
    public HeldOutLoss Evaluate(SmallVideoModel model)
    {
        var perLevel = new double[Levels.Count];
        if (Clips == 0) return new HeldOutLoss(double.NaN, perLevel.Select(_ => double.NaN).ToArray());
        using var noGrad = no_grad();
        for (int level = 0; level < Levels.Count; level++)
        {
            double sum = 0;
            for (long first = 0; first < Clips; first += _batch)
            {
                using var scope = NewDisposeScope();
                long count = Math.Min(_batch, Clips - first);
                var x0 = _latents.narrow(0, first, count);
                var noise = _noise[level].narrow(0, first, count);
                var t = full(count, Levels[level], ScalarType.Float32);
                var noisy = FlowMatching.NoisySample(x0, noise, t);
                var predicted = model.PredictFlow(noisy, t * FlowMatching.TimestepScale, _sources.narrow(0, first, count));
                // Sum of per-element means weighted by clips, so uneven last batches average exactly.
                sum += FlowMatching.Loss(predicted, FlowMatching.Target(x0, noise)).item<float>() * count;
            }
            perLevel[level] = sum / Clips;
        }
        return new HeldOutLoss(perLevel.Average(), perLevel);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _latents.Dispose();
        _sources.Dispose();
        foreach (var noise in _noise) noise.Dispose();
    }
}

/// <summary>A held-out evaluation's result.</summary>
/// <param name="Mean">The mean over the noise levels (NaN without held-out clips).</param>
/// <param name="PerLevel">The loss at each level, in the evaluation's level order.</param>
public sealed record HeldOutLoss(double Mean, double[] PerLevel);
