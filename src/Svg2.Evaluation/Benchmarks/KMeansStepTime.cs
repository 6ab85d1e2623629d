namespace Svg2.Evaluation.Benchmarks;

/// <summary>Mean time of one kernel step of one k-means iteration.</summary>
/// <param name="Tensor">"q" or "k".</param>
/// <param name="Step">The step, as named by the k-means stage (norms, assignment, counting sort, segment means).</param>
/// <param name="Milliseconds">Mean milliseconds per iteration.</param>
public sealed record KMeansStepTime(string Tensor, string Step, double Milliseconds);
