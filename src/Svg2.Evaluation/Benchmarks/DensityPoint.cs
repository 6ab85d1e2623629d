using Svg2.Cuda;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>Timings of the whole SVG2 call at one density (mean milliseconds over the timed iterations, CUDA events).</summary>
/// <param name="Label">How the density was chosen ("top_p 0.9" or "fixed 20%").</param>
/// <param name="TopP">The top-p used.</param>
/// <param name="MinKeyClusterRatio">The minimum kept ratio used.</param>
/// <param name="Density">Mean fraction of the score matrix computed.</param>
/// <param name="KMeansQueryMs">The warm call's k-means iterations (2 by default) on q (includes the query permutation: the counting sort).</param>
/// <param name="KMeansKeyMs">The warm call's k-means iterations on k (includes the key permutation).</param>
/// <param name="SelectionMs">Selection, key-range list and tile plan.</param>
/// <param name="AttentionMs">Sparse attention (gather by permutation and inverse-permutation store fused in).</param>
/// <param name="DenseMs">Dense SDPA of the same run.</param>
/// <param name="ComputedEntries">Sum over heads and query clusters of |Q_i| x selected keys.</param>
/// <param name="HeadDim">D.</param>
/// <param name="OperatorMs">One warm call of <c>Svg2Attention.Forward</c> with the <see cref="CudaBackend"/> (the code the
/// models and the evaluation run) at the same rule: the stages plus what the operator adds (input views, the output
/// allocation, copies of labels and mask and the density for its result).</param>
/// <param name="OperatorDensity">Mean density of the operator's last timed call (its own centroid cache, so it may differ
/// slightly from <paramref name="Density"/>).</param>
/// <param name="ClusterCompensatedMs">The same warm operator call with per-query-cluster centroid compensation of the skipped
/// clusters (<c>svg2-ear --routing top-p --compensation per-cluster</c>: value means, compensation terms and the kernel's merge).</param>
/// <param name="RowCompensatedMs">The same with per-row compensation (<c>svg2-ear --routing top-p</c>: value means, the centroid
/// key lists and one extra key per skipped cluster in the kernel's key loop), or NaN where the kernels cannot fuse it.</param>
/// <param name="ErrorRouted">svg2-ear's per-row compensation with error-aware routing (the probe kernels, the selection by
/// score, the compensated attention), one timing per probe variant, each threshold searched on the first, untimed call to
/// reach <paramref name="OperatorDensity"/> and then fixed; empty where the kernels cannot fuse per-row compensation.</param>
/// <param name="KMeansSideBySideMs">The warm call's k-means iterations on q and on k enqueued as the operator does, the two chains side by
/// side on two streams (<paramref name="KMeansQueryMs"/> and <paramref name="KMeansKeyMs"/> time them back to back).</param>
/// <param name="KMeansFp8Ms">The warm call's k-means iterations on q and on k, side by side, with FP8 distance products (<c>--kmeans-precision fp8</c>);
/// NaN where the kernels have no FP8 assignment.</param>
/// <param name="OperatorFp8KMeansMs">The warm operator call of <paramref name="OperatorMs"/> with FP8 k-means distances (NaN where not timed).</param>
/// <param name="Fp8">FP8 attention on the same plan and the FP8 operator at the same rule; null where the GPU has no FP8 attention kernels.</param>
public sealed record DensityPoint(string Label, double TopP, double MinKeyClusterRatio, double Density,
    double KMeansQueryMs, double KMeansKeyMs, double SelectionMs, double AttentionMs, double DenseMs, double ComputedEntries, int HeadDim,
    double OperatorMs, double OperatorDensity, double ClusterCompensatedMs, double RowCompensatedMs, IReadOnlyList<ErrorRoutedTiming> ErrorRouted,
    double KMeansSideBySideMs, double KMeansFp8Ms, double OperatorFp8KMeansMs, Fp8AttentionTiming? Fp8 = null)
{
    /// <summary>The bf16 kernel's time over the FP8 kernel's on the same plan (NaN when FP8 was not timed).</summary>
    public double Fp8KernelSpeedup => Fp8 is null ? double.NaN : AttentionMs / Fp8.AttentionMs;

    /// <summary>Density x bf16 dense time / FP8 attention time: the FP8 kernel's share of the bf16 ideal (above 100% is possible).</summary>
    public double Fp8PercentOfBf16Ideal => Fp8 is null ? double.NaN : Density * DenseMs / Fp8.AttentionMs;

    /// <summary>Dense bf16 time over the FP8 operator's time.</summary>
    public double Fp8OperatorSpeedup => Fp8 is null ? double.NaN : DenseMs / Fp8.OperatorMs;

    /// <summary>What <paramref name="timing"/> adds to the whole operator's time (SVG2 at the same density), as a fraction of it.</summary>
    public double Overhead(ErrorRoutedTiming timing) => timing.Milliseconds / OperatorMs - 1;

    /// <summary>What per-query-cluster compensation adds to the whole operator's time, as a fraction of it.</summary>
    public double ClusterCompensationOverhead => ClusterCompensatedMs / OperatorMs - 1;

    /// <summary>What per-row compensation adds to the whole operator's time, as a fraction of it.</summary>
    public double RowCompensationOverhead => RowCompensatedMs / OperatorMs - 1;

    /// <summary>The sum of the four stages, enqueued back to back on the pipeline.</summary>
    public double TotalMs => KMeansQueryMs + KMeansKeyMs + SelectionMs + AttentionMs;

    /// <summary>4 x computed entries x D / attention time, in TFLOP/s.</summary>
    public double EffectiveTflops => 4 * ComputedEntries * HeadDim / (AttentionMs * 1e-3) / 1e12;

    /// <summary>Kernel efficiency as in the paper: density x dense time / sparse attention time.</summary>
    public double PercentOfIdeal => Density * DenseMs / AttentionMs;

    /// <summary>Dense time over the operator's time with FP8 k-means distances.</summary>
    public double Fp8KMeansSpeedup => DenseMs / OperatorFp8KMeansMs;

    /// <summary>Dense time over the whole operator's time (<see cref="OperatorMs"/>).</summary>
    public double Speedup => DenseMs / OperatorMs;
}
