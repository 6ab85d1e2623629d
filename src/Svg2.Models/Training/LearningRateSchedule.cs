namespace Svg2.Models.Training;

/// <summary>
/// Linear warm-up from 0 to the peak over the warm-up steps (step s uses (s + 1) / warm-up of the peak),
/// then the peak (constant) or half a cosine from the peak down to the floor at the last step.
/// </summary>
/// <param name="Peak">The peak learning rate.</param>
/// <param name="WarmupSteps">Steps of warm-up.</param>
/// <param name="Shape">Constant or cosine after warm-up.</param>
/// <param name="FloorRatio">The cosine's end as a fraction of the peak.</param>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, LearningRateShape Shape, double FloorRatio)
{
    /// <summary>The schedule of a run's options.</summary>
    public static LearningRateSchedule For(TrainingOptions options) =>
        new(options.LearningRate, options.WarmupSteps, options.Schedule, options.MinLearningRateRatio);

    /// <summary>
    /// The learning rate of step <paramref name="step"/> (from 0) of <paramref name="totalSteps"/>; a null
    /// total (not yet fixed) is only allowed during warm-up.
    /// </summary>
    /// <exception cref="InvalidOperationException">The total is unknown after warm-up.</exception>
    public double At(int step, int? totalSteps)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        if (Shape == LearningRateShape.Constant) return Peak;
        if (totalSteps is not { } total) throw new InvalidOperationException($"Step {step} is past the warm-up, but the run's step count is not fixed yet.");
        int decaySteps = Math.Max(1, total - 1 - WarmupSteps);
        double progress = Math.Clamp((double)(step - WarmupSteps) / decaySteps, 0, 1);
        double floor = Peak * FloorRatio;
        return floor + (Peak - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
