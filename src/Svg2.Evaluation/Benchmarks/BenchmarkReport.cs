namespace Svg2.Evaluation.Benchmarks;

/// <summary>Everything one benchmark run measured for a shape.</summary>
/// <param name="Shape">The attention call.</param>
/// <param name="Device">GPU name and architecture.</param>
/// <param name="DenseMs">PyTorch SDPA on bf16 [1, H, S, D] (its default backend choice), mean milliseconds.</param>
/// <param name="InitKMeansMs">50-iteration k-means of q and k from random centroids, one run.</param>
/// <param name="Iterations">Timed iterations per point (after 10 warm-ups).</param>
/// <param name="Points">One entry per density.</param>
/// <param name="ExtraMemoryBytes">Device memory of the pipeline's buffers, output excluded.</param>
/// <param name="Workload">How the inputs were generated.</param>
/// <param name="KMeansSteps">One warm k-means iteration on q and on k, kernel step by kernel step.</param>
/// <param name="Fp8Dense">Dense attention in FP8 through the FP8 kernel (one query and one key cluster); null where the GPU has none.</param>
/// <param name="StepIterations">k-means iterations of every warm call timed.</param>
public sealed record BenchmarkReport(BenchmarkShape Shape, string Device, double DenseMs, double InitKMeansMs, int Iterations,
    IReadOnlyList<DensityPoint> Points, long ExtraMemoryBytes, string Workload, IReadOnlyList<StepTime> KMeansSteps, Fp8AttentionTiming? Fp8Dense = null,
    int StepIterations = 2)
{
    /// <summary>Dense attention rate, 4 x S^2 x D x H / time.</summary>
    public double DenseTflops => 4.0 * Shape.Tokens * (double)Shape.Tokens * Shape.HeadDim * Shape.Heads / (DenseMs * 1e-3) / 1e12;
}
