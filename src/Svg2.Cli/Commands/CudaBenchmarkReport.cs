using Spectre.Console;
using Svg2.Cuda.Runtime;
using Svg2.Evaluation.Benchmarks;

namespace Svg2.Cli.Commands;

/// <summary>Runs the CUDA benchmark for <c>svg2 bench --device cuda --shape &lt;preset&gt;</c> and prints its tables.</summary>
public static class CudaBenchmarkReport
{
    /// <summary>Benchmarks one preset (or "all") and prints the stage timings and the comparison with dense SDPA.</summary>
    /// <param name="shape">A <see cref="BenchmarkShape"/> preset or workload shape name, or "all" (the presets).</param>
    /// <param name="iterations">Timed iterations per measurement (10 warm-ups come first).</param>
    /// <param name="densities">Fixed densities to measure besides top_p 0.9.</param>
    /// <returns>The process exit code.</returns>
    public static int Run(string shape, int iterations = 20, IReadOnlyList<double>? densities = null)
    {
        densities ??= [0.10, 0.15, 0.20, 0.30];
        var shapes = shape.Equals("all", StringComparison.OrdinalIgnoreCase) ? BenchmarkShape.Presets : [BenchmarkShape.Find(shape)];
        foreach (var preset in shapes)
            if (!TensorChecks.IsSupportedHeadDim(preset.HeadDim))
                throw new NotSupportedException($"The CUDA kernels take head dimension 64 or 128; shape '{preset.Name}' has {preset.HeadDim}. Run it with --device cpu.");
        foreach (var preset in shapes)
        {
            var report = CudaBenchmark.Run(preset, iterations, densities, line => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]"));
            Print(report);
        }
        return 0;
    }

    static void Print(BenchmarkReport report)
    {
        var shape = report.Shape;
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(shape.Name)}[/]: {Markup.Escape(shape.Description)}; H={shape.Heads}, S={shape.Tokens:N0}, D={shape.HeadDim}, QC={shape.QueryClusters}, KC={shape.KeyClusters}");
        AnsiConsole.MarkupLine($"device {Markup.Escape(report.Device)}; dense SDPA {report.DenseMs:F2} ms ({report.DenseTflops:F0} TFLOP/s); " +
                               $"k-means init (50 iterations, q+k) {report.InitKMeansMs:F1} ms; {report.Iterations} timed iterations after 10 warm-ups; " +
                               $"pipeline buffers {report.ExtraMemoryBytes / 1048576.0:F0} MiB");
        AnsiConsole.MarkupLine($"[grey]workload: {Markup.Escape(report.Workload)}[/]");
        var table = new Table();
        string[] columns = ["point", "top_p / min ratio", "density", "k-means q (ms)", "k-means k (ms)", "selection+plan (ms)", "attention (ms)",
                                       "attention TFLOP/s", "% of ideal", "stages (ms)", "operator (ms)", "operator density", "dense (ms)", "speedup", "k-means fp8, q+k (ms)", "operator, fp8 k-means (ms)", "speedup", "ear per cluster (ms)", "overhead", "ear per row (ms)", "overhead",
                                       .. CudaBenchmark.ErrorRoutedProbes.SelectMany(probe => new[] { $"svg2-ear, {probe.Name} probe (ms)", "overhead", "density" })];
        foreach (var column in columns)
            table.AddColumn(column);
        foreach (var p in report.Points)
            table.AddRow([Markup.Escape(p.Label), $"{p.TopP:F4} / {p.MinKeyClusterRatio:F2}", $"{p.Density:P1}", $"{p.KMeansQueryMs:F2}", $"{p.KMeansKeyMs:F2}",
                $"{p.SelectionMs:F2}", $"{p.AttentionMs:F2}", $"{p.EffectiveTflops:F0}", $"{p.PercentOfIdeal:P0}", $"{p.TotalMs:F2}",
                $"{p.OperatorMs:F2}", $"{p.OperatorDensity:P1}", $"{p.DenseMs:F2}", $"{p.Speedup:F2}x",
                $"{p.KMeansFp8Ms:F2}", $"{p.OperatorFp8KMeansMs:F2}", $"{p.Fp8KMeansSpeedup:F2}x",
                $"{p.ClusterCompensatedMs:F2}", $"{p.ClusterCompensationOverhead:+0.0%;-0.0%}", $"{p.RowCompensatedMs:F2}", $"{p.RowCompensationOverhead:+0.0%;-0.0%}",
                .. CudaBenchmark.ErrorRoutedProbes.SelectMany(probe => p.ErrorRouted.FirstOrDefault(t => t.Probe == probe.Name) is { } t
                    ? new[] { $"{t.Milliseconds:F2}", $"{p.Overhead(t):+0.0%;-0.0%}", $"{t.Density:P1}" }
                    : ["-", "-", "-"])]);
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[grey]ear per cluster / per row: the operator with centroid compensation of the skipped key clusters (svg2-ear with top-p routing), " +
                               "per query cluster merged at the kernel's store, per row as one extra key per skipped cluster (Hopper kernels only; NaN elsewhere). " +
                               "svg2-ear: the default method, per-row compensation routed by estimated error (the probe kernels, selection by score, " +
                               "the compensated attention), its threshold searched on an untimed first call to reach the operator's density, then fixed; " +
                               $"the {CudaBenchmark.SampledProbeKeys}-key probe walks that many sampled keys of each key cluster (--probe-keys); " +
                               "the centroid normaliser replaces the probe's first sweep with a softmax over centroid scores (--probe-normaliser centroid).[/]");
        var steps = new Table().AddColumn("k-means, one warm iteration").AddColumns(report.KMeansSteps.Select(s => s.Step).Distinct().ToArray());
        foreach (var tensor in report.KMeansSteps.GroupBy(s => s.Subject))
            steps.AddRow([tensor.Key, .. tensor.Select(s => $"{s.Milliseconds:F3} ms")]);
        AnsiConsole.Write(steps);
    }
}
