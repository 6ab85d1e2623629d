namespace Svg2.Models.Training;

/// <summary>
/// The recipe of a small-model training run: Wan's flow-matching objective with AdamW on float32 weights,
/// warm-up then cosine (or constant) learning rate, gradient clipping, an exponential moving average of the
/// weights, condition dropout for classifier-free guidance, and horizontal flips of the clips. A run keeps
/// its options across resumes.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>The model preset: "footage" (the default model) or "tiny" (tests and smoke runs).</summary>
    public string Model { get; init; } = "footage";

    /// <summary>Optimiser steps in the whole run, or null to derive them from <see cref="BudgetMinutes"/>.</summary>
    public int? Steps { get; init; }

    /// <summary>
    /// Training time for the whole run, across resumes, when <see cref="Steps"/> is null: after
    /// <see cref="CalibrationSteps"/> steps the step count is fixed from the measured step and evaluation
    /// times, and kept from then on (the log and checkpoint record it).
    /// </summary>
    public double? BudgetMinutes { get; init; }

    /// <summary>Clips per step.</summary>
    public int Batch { get; init; } = 8;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 4e-4;

    /// <summary>Steps of linear warm-up from 0 to the peak.</summary>
    public int WarmupSteps { get; init; } = 200;

    /// <summary>The learning rate after warm-up.</summary>
    public LearningRateShape Schedule { get; init; } = LearningRateShape.Cosine;

    /// <summary>The cosine's floor as a fraction of the peak.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;

    /// <summary>AdamW's decoupled weight decay.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>AdamW's first-moment decay.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW's second-moment decay (0.99: a short run needs the faster estimate).</summary>
    public double Beta2 { get; init; } = 0.99;

    /// <summary>AdamW's epsilon.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>The largest global gradient norm; larger gradients are scaled down to it.</summary>
    public double GradientClip { get; init; } = 1.0;

    /// <summary>Decay of the weights' moving average (warmed up as min(decay, (1 + step) / (10 + step))).</summary>
    public double EmaDecay { get; init; } = 0.999;

    /// <summary>Probability that an example's source is replaced by the null condition (classifier-free guidance).</summary>
    public double ConditionDropout { get; init; } = 0.1;

    /// <summary>How noise levels are drawn before the shift.</summary>
    public TimestepSampling Timesteps { get; init; } = TimestepSampling.LogitNormal;

    /// <summary>Flow shift applied to the drawn noise levels, and the model's default sampling shift.</summary>
    public double Shift { get; init; } = 3.0;

    /// <summary>Mirror each training clip left to right with probability 1/2.</summary>
    public bool HorizontalFlip { get; init; } = true;

    /// <summary>
    /// How strongly sources with few clips are drawn more often, β in [0, 1]: a clip's draw probability is
    /// proportional to n_s^-β for a source of n_s training clips. 0 (the default) draws clips uniformly; 1 draws
    /// every source equally often, which repeats a short source's clips many times.
    /// </summary>
    public double SourceBalance { get; init; }

    /// <summary>Seed of the initial weights, the batches, the noise levels and the noise.</summary>
    public long Seed { get; init; }

    /// <summary>Steps between evaluations of the held-out loss (also evaluated before the first step and after the last).</summary>
    public int EvalEvery { get; init; } = 250;

    /// <summary>Noise levels of the held-out loss, evenly spaced: t = (k + 1/2) / levels.</summary>
    public int EvalLevels { get; init; } = 8;

    /// <summary>Steps between checkpoints (also written when an invocation stops).</summary>
    public int CheckpointEvery { get; init; } = 500;

    /// <summary>
    /// An exported model file (<see cref="Small.SmallVideoModelFile"/>) whose weights start the run instead of
    /// Wan's initialisation, with a fresh optimiser state: the way to continue training beyond a finished run
    /// whose checkpoint is gone. Its configuration must be the one the preset and the dataset give, and its
    /// channel statistics are kept, since its weights were trained on them.
    /// </summary>
    public string? InitialWeights { get; init; }

    /// <summary>Where forwards and backwards compute.</summary>
    public ComputePrecision Precision { get; init; } = ComputePrecision.Float32;

    /// <summary>Steps timed before a budgeted run fixes its step count.</summary>
    public const int CalibrationSteps = 20;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        if (Steps is null == BudgetMinutes is null) throw new ArgumentException("Give either a step count or a time budget for the run (not both).");
        if (Steps is < 1) throw new ArgumentException($"Step count must be at least 1 (got {Steps}).");
        if (BudgetMinutes is { } budget && !(budget > 0 && double.IsFinite(budget))) throw new ArgumentException($"Time budget must be a positive number of minutes (got {budget}).");
        if (BudgetMinutes is not null && WarmupSteps < CalibrationSteps)
            throw new ArgumentException($"A time budget fixes the step count after {CalibrationSteps} calibration steps, inside the warm-up: warm-up must be at least {CalibrationSteps} steps (got {WarmupSteps}).");
        if (Batch < 1) throw new ArgumentException($"Batch must be at least 1 (got {Batch}).");
        if (!(LearningRate > 0 && double.IsFinite(LearningRate))) throw new ArgumentException($"Learning rate must be positive (got {LearningRate}).");
        if (WarmupSteps < 0) throw new ArgumentException($"Warm-up steps must not be negative (got {WarmupSteps}).");
        if (!(MinLearningRateRatio >= 0 && MinLearningRateRatio <= 1)) throw new ArgumentException($"The learning-rate floor must lie in [0, 1] of the peak (got {MinLearningRateRatio}).");
        if (!(WeightDecay >= 0 && WeightDecay < 1)) throw new ArgumentException($"Weight decay must lie in [0, 1) (got {WeightDecay}).");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentException($"AdamW betas must lie in [0, 1) (got {Beta1}, {Beta2}).");
        if (!(Epsilon > 0)) throw new ArgumentException($"AdamW epsilon must be positive (got {Epsilon}).");
        if (!(GradientClip > 0)) throw new ArgumentException($"Gradient clip must be positive (got {GradientClip}).");
        if (!(EmaDecay >= 0 && EmaDecay < 1)) throw new ArgumentException($"EMA decay must lie in [0, 1) (got {EmaDecay}).");
        if (!(ConditionDropout >= 0 && ConditionDropout < 1)) throw new ArgumentException($"Condition dropout must lie in [0, 1) (got {ConditionDropout}).");
        if (!(SourceBalance >= 0 && SourceBalance <= 1)) throw new ArgumentException($"Source balance must lie in [0, 1] (got {SourceBalance}).");
        if (!(Shift > 0 && double.IsFinite(Shift))) throw new ArgumentException($"Flow shift must be positive (got {Shift}).");
        if (EvalEvery < 1) throw new ArgumentException($"Evaluation interval must be at least 1 step (got {EvalEvery}).");
        if (EvalLevels < 1) throw new ArgumentException($"Held-out noise levels must be at least 1 (got {EvalLevels}).");
        if (CheckpointEvery < 1) throw new ArgumentException($"Checkpoint interval must be at least 1 step (got {CheckpointEvery}).");
    }
}
