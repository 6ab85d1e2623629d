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
    /// <param name="stepIterations">k-means iterations of a warm call.</param>
    /// <returns>The process exit code.</returns>
    public static int Run(string shape, int iterations = 20, IReadOnlyList<double>? densities = null, int stepIterations = 2)
    {
        densities ??= [0.10, 0.15, 0.20, 0.30];
        var shapes = shape.Equals("all", StringComparison.OrdinalIgnoreCase) ? BenchmarkShape.Presets : [BenchmarkShape.Find(shape)];
        foreach (var preset in shapes)
            if (!TensorChecks.IsSupportedHeadDim(preset.HeadDim))
                throw new NotSupportedException($"The CUDA kernels take head dimension 64 or 128; shape '{preset.Name}' has {preset.HeadDim}. Run it with --device cpu.");
        foreach (var preset in shapes)
        {
            var report = CudaBenchmark.Run(preset, iterations, densities, line => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]"), stepIterations: stepIterations);
            Print(report);
        }
        return 0;
    }

    static void Print(BenchmarkReport report)
    {
        var shape = report.Shape;
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(shape.Name)}[/]: {Markup.Escape(shape.Description)}; H={shape.Heads}, S={shape.Tokens:N0}, D={shape.HeadDim}, QC={shape.QueryClusters}, KC={shape.KeyClusters}");
        AnsiConsole.MarkupLine($"device {Markup.Escape(report.Device)}; dense SDPA {report.DenseMs:F2} ms ({report.DenseTflops:F0} TFLOP/s); " +
                               $"k-means init (50 iterations, q+k) {report.InitKMeansMs:F1} ms, {report.StepIterations} per warm call; {report.Iterations} timed iterations after 10 warm-ups; " +
                               $"pipeline buffers {report.ExtraMemoryBytes / 1048576.0:F0} MiB");
        AnsiConsole.MarkupLine($"[grey]workload: {Markup.Escape(report.Workload)}[/]");
        foreach (var table in Tables(report))
            AnsiConsole.Write(table);
        var steps = new Table().AddColumn("k-means, one warm iteration").AddColumns(report.KMeansSteps.Select(s => s.Step).Distinct().ToArray());
        foreach (var tensor in report.KMeansSteps.GroupBy(s => s.Subject))
            steps.AddRow([tensor.Key, .. tensor.Select(s => $"{s.Milliseconds:F3} ms")]);
        AnsiConsole.Write(steps);
    }

    /// <summary>
    /// The report's density points as three tables narrow enough to read: SVG2's stages against dense attention,
    /// svg2-ear's variants against SVG2, and k-means with FP8 distances. A value a GPU could not time shows as "-".
    /// </summary>
    internal static IReadOnlyList<Table> Tables(BenchmarkReport report)
    {
        var stages = NewTable("SVG2 against dense attention", "point", "top_p / min ratio", "density", "k-means q (ms)", "k-means k (ms)",
            "selection+plan (ms)", "attention (ms)", "attention TFLOP/s", "% of ideal", "stages (ms)", "operator (ms)", "operator density", "dense (ms)", "speedup");
        foreach (var p in report.Points)
            stages.AddRow(Markup.Escape(p.Label), $"{p.TopP:F4} / {p.MinKeyClusterRatio:F2}", $"{p.Density:P1}", $"{p.KMeansQueryMs:F2}", $"{p.KMeansKeyMs:F2}",
                $"{p.SelectionMs:F2}", $"{p.AttentionMs:F2}", $"{p.EffectiveTflops:F0}", $"{p.PercentOfIdeal:P0}", $"{p.TotalMs:F2}",
                $"{p.OperatorMs:F2}", $"{p.OperatorDensity:P1}", $"{p.DenseMs:F2}", $"{p.Speedup:F2}x");

        var probes = CudaBenchmark.ErrorRoutedProbes;
        var ear = NewTable("svg2-ear against SVG2 at the same density (ms, overhead over the operator)",
            ["point", "per cluster, top-p", "per row, top-p", .. probes.Select(probe => $"{probe.Name} probe (density)")]);
        foreach (var p in report.Points)
            ear.AddRow([Markup.Escape(p.Label), Timed(p.ClusterCompensatedMs, p.ClusterCompensationOverhead), Timed(p.RowCompensatedMs, p.RowCompensationOverhead),
                .. probes.Select(probe => p.ErrorRouted.FirstOrDefault(t => t.Probe == probe.Name) is { } t
                    ? $"{Timed(t.Milliseconds, p.Overhead(t))} ({t.Density:P1})" : "-")]);
        ear.Caption("[grey]per cluster / per row, top-p: SVG2's blocks with centroid compensation of the skipped key clusters, " +
                    "per query cluster merged at the kernel's store, per row as one extra key per skipped cluster (Hopper kernels only). " +
                    "The probes: svg2-ear's per-row compensation routed by estimated error (the probe kernels, selection by score, " +
                    "the compensated attention), its threshold searched on an untimed first call to reach the operator's density, then fixed; " +
                    $"the {CudaBenchmark.SampledProbeKeys}-key probe walks that many sampled keys of each key cluster (--probe-keys); " +
                    "the probe's normaliser is the size-weighted softmax over centroid scores (the default); per-row compensation folds its light tail " +
                    "(skipped blocks whose centroid weight is below τ / KC of their query cluster's) into one term per query cluster (--compensation-tail τ, " +
                    $"default {Svg2.Configuration.Svg2Options.DefaultCompensationTailMass:0e0}; no tail: τ 0).[/]");

        var fp8 = NewTable($"k-means, {report.StepIterations} warm iterations of q and of k, and with FP8 distances (--kmeans-precision fp8)", "point", "q + k back to back (ms)",
            "q + k side by side (ms)", "side by side, share of dense", "FP8, side by side (ms)", "operator, FP8 k-means (ms)", "speedup");
        foreach (var p in report.Points)
            fp8.AddRow(Markup.Escape(p.Label), $"{p.KMeansQueryMs + p.KMeansKeyMs:F2}", $"{p.KMeansSideBySideMs:F2}", $"{p.KMeansSideBySideMs / p.DenseMs:P1}",
                Value(p.KMeansFp8Ms, "F2"), Value(p.OperatorFp8KMeansMs, "F2"), Ratio(p.Fp8KMeansSpeedup));
        fp8.Caption("[grey]back to back: the stage timings (q's chain, then k's); side by side: as the operator enqueues them, k's chain on a second stream.[/]");
        if (report.Points.All(p => p.Fp8 is null)) return [stages, ear, fp8];
        var fp8Attention = NewTable("FP8 attention (--precision fp8) on the same plan", "point", "density", "bf16 kernel (ms)", "FP8 quantisation (ms)",
            "FP8 kernel (ms)", "FP8 vs bf16 kernel", "FP8 % of bf16 ideal", "FP8 error vs bf16", "FP8 operator (ms)", "FP8 operator vs bf16 dense");
        foreach (var p in report.Points)
            fp8Attention.AddRow(Markup.Escape(p.Label), $"{p.Density:P1}", $"{p.AttentionMs:F2}", p.Fp8 is { } t ? $"{t.QuantizeMs:F2}" : "-",
                p.Fp8 is { } a ? $"{a.AttentionMs:F2}" : "-", Ratio(p.Fp8KernelSpeedup), double.IsNaN(p.Fp8PercentOfBf16Ideal) ? "-" : $"{p.Fp8PercentOfBf16Ideal:P0}",
                p.Fp8 is { } e ? Value(e.RelativeError, "E2") : "-", p.Fp8 is { } o ? $"{o.OperatorMs:F2}" : "-", Ratio(p.Fp8OperatorSpeedup));
        if (report.Fp8Dense is { } dense)
            fp8Attention.Caption($"[grey]dense in FP8 through the FP8 kernel (one cluster): quantisation {dense.QuantizeMs:F2} ms + kernel {dense.AttentionMs:F2} ms, " +
                                 $"against bf16 dense SDPA {report.DenseMs:F2} ms ({report.DenseMs / dense.AttentionMs:F2}x kernel alone, {report.DenseMs / dense.TotalMs:F2}x with the quantisation; " +
                                 $"error vs SDPA {Value(dense.RelativeError, "E2")}). % of bf16 ideal: density x bf16 dense time / FP8 kernel time; " +
                                 "FP8 error: ||FP8 - bf16|| / ||bf16|| against the bf16 kernel's output on the same plan.[/]");
        return [stages, ear, fp8, fp8Attention];

        static Table NewTable(string title, params string[] columns) => new Table().Title(title).AddColumns(columns);
        static string Value(double value, string format) => double.IsNaN(value) ? "-" : value.ToString(format, System.Globalization.CultureInfo.InvariantCulture);
        static string Ratio(double value) => double.IsNaN(value) ? "-" : $"{value:F2}x";
        static string Timed(double milliseconds, double overhead) => double.IsNaN(milliseconds) ? "-" : $"{milliseconds:F2}, {overhead:+0.0%;-0.0%}";
    }
}
