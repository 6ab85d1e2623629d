namespace Svg2.Evaluation.Benchmarks;

/// <summary>Mean time of one kernel step of a warm call's stage (a k-means iteration, an error routing).</summary>
/// <param name="Subject">What the stage ran on or how: "q" or "k" for k-means, the probe variant for error routing.</param>
/// <param name="Step">The step, as named by the stage (for k-means: norms, assignment, counting sort, segment means).</param>
/// <param name="Milliseconds">Mean milliseconds per call.</param>
public sealed record StepTime(string Subject, string Step, double Milliseconds);
