using System.CommandLine;
using Spectre.Console;
using Svg2.Attention;
using Svg2.Cli.Rendering;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Workloads;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>
/// <c>svg2 bench</c>: SVG2 and its baselines on the built-in video-like workload, at equal density.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var shape = new Option<string>("--shape") { Description = $"workload shape: {string.Join(", ", VideoShape.Named.Keys)}", DefaultValueFactory = _ => "small" };
        var workload = WorkloadOption();
        var methods = new Option<string>("--methods") { Description = "comma-separated methods to compare", DefaultValueFactory = _ => string.Join(",", MethodCatalog.Names) };
        var density = new Option<double?>("--density") { Description = "drive every method to this density; default: SVG2 at its top_p, the baselines at SVG2's density" };
        var statRows = new Option<long?>("--stat-rows") { Description = "query rows sampled for recall and error (default: all up to 2048 rows, else a seeded sample of 1024)" };
        var json = new Option<string?>("--json") { Description = "also write the measurements to this JSON file" };
        var compare = new Option<bool>("--compare") { Description = "with --device cuda: compare the methods' quality on the GPU instead of timing SVG2's stages against dense attention" };
        var iterations = new Option<int>("--iterations") { Description = "with --device cuda: timed iterations per measurement, after 10 warm-ups", DefaultValueFactory = _ => 20 };
        var densities = new Option<double[]?>("--densities") { Description = "with --device cuda: the fixed densities timed besides top_p 0.9 (default 0.1 0.15 0.2 0.3)", AllowMultipleArgumentsPerToken = true };
        var device = new DeviceOptions();
        var config = new Svg2ConfigOptions();
        var precision = new PrecisionOption();
        var command = new Command("bench", "Compare SVG2 with dense attention, position blocks, a local window and the token oracle on the built-in video-like workload.");
        foreach (var option in (Option[])[shape, workload, methods, density, statRows, json, compare, iterations, densities, .. precision.Options]) command.Options.Add(option);
        device.AddTo(command);
        config.AddTo(command);
        command.SetAction(result => CommandErrors.Run(() =>
        {
            bool stageTiming = result.GetValue(device.Device) == "cuda" && !result.GetValue(compare);
            if (stageTiming)
                CommandErrors.RejectUnused(result, [workload, methods, density, statRows, json, device.DType, .. config.All.Where(o => o != config.StepIterations)],
                    "bench --device cuda times SVG2's stages on the shape's preset configuration against dense attention and takes only --shape, --iterations, --densities and --step-iters (--compare runs the method comparison on the GPU, which takes the others)");
            else
                CommandErrors.RejectUnused(result, [iterations, densities], "bench on the CPU, or with --compare, measures each method once (--iterations and --densities are for the stage timing of --device cuda)");
            if (result.GetValue(device.Device) != "cuda") CommandErrors.RejectUnused(result, [compare], "bench on the CPU always compares the methods");
            var onDevice = device.ResolveDevice(result);
            precision.RequireDevice(result, onDevice);
            if (stageTiming)
            {
                var fixedDensities = result.GetValue(densities);
                if (fixedDensities is not null && fixedDensities.Any(d => !(d > 0 && d <= 1)))
                    throw new ArgumentException($"--densities must lie in (0, 1]; got {string.Join(", ", fixedDensities)}.");
                int stepIterations = result.GetValue(config.StepIterations) ?? new Svg2.Configuration.Svg2Options().StepIterations;
                if (stepIterations < 1) throw new ArgumentException($"--step-iters must be at least 1; got {stepIterations}.");
                return CudaBenchmarkReport.Run(result.GetValue(shape)!, result.GetValue(iterations), fixedDensities, stepIterations);
            }
            var target = VideoShape.FromName(result.GetValue(shape)!);
            var dtype = device.ResolveType(result) ?? DeviceOptions.DefaultType(onDevice);
            var options = precision.ApplyTo(result, config.Build(result));
            var names = ParseMethods(result.GetValue(methods)!);
            foreach (var name in names) MethodCatalog.RequirePrecisionSupport(name, options);
            if (precision.IsFp8(result)) Svg2.Attention.Fp8.Fp8Tiles.RequireHeadDim(target.HeadDim);
            config.RejectUnusedBy(result, names);
            long sequence = target.SequenceLength;
            long? rows = result.GetValue(statRows) ?? (sequence <= QualityRows.FullBelow ? null : QualityRows.Sample);

            var profile = VideoLikeProfile.FromName(result.GetValue(workload)!);
            AnsiConsole.MarkupLineInterpolated($"[bold]workload[/] {profile.Name} {result.GetValue(shape)}: {target.Batch}x{target.Heads} heads, {target.Frames}x{target.Height}x{target.Width} tokens{(target.TextTokens > 0 ? $" + {target.TextTokens} text" : "")} (S = {sequence}), D = {target.HeadDim}, {dtype} on {onDevice.type}");
            using var sample = VideoLikeWorkload.Generate(target, (int)result.GetValue(config.Seed), dtype, onDevice, profile);
            var (q, k, v) = (AttentionInputs.Flatten(sample.Query), AttentionInputs.Flatten(sample.Key), AttentionInputs.Flatten(sample.Value));
            var text = target.TextTokens > 0 ? new TextTokens(target.TextTokens, target.PromptLength) : (TextTokens?)null;
            var grid = text is null ? new TokenGrid(target.Frames, target.Height, target.Width) : TokenGrid.Sequence(sequence);

            var backend = DeviceOptions.ChooseBackend(q, k, v);
            if (names.Contains(MethodCatalog.Svg2Ear)) DeviceOptions.NoteFallback(backend, MethodCatalog.OptionsFor(MethodCatalog.Svg2Ear, options));
            var measurements = MeasureAll(names, options, grid, text, q, k, v, result.GetValue(density), rows, backend);
            AnsiConsole.Write(MeasurementTable.Summary($"methods at equal density ({(rows is null ? "all" : rows.ToString())} query rows measured)", measurements,
                onDevice.type == TorchSharp.DeviceType.CPU));
            AnsiConsole.Write(HeadKindTable(measurements, sample.HeadKinds, target.Batch));
            if (precision.IsFp8(result))
                AnsiConsole.Write(Fp8ErrorTable.Render(Evaluation.Statistics.Fp8ErrorStudy.Run(q, k, v, options, result.GetValue(density), text)));
            if (result.GetValue(json) is { } path)
                JsonReports.Write(path, new RunReport("bench", $"{profile.Name} {result.GetValue(shape)}", sample.Query.shape, dtype.ToString(), onDevice.type.ToString(), options, measurements, DateTime.UtcNow.ToString("O")));
            return 0;
        }));
        return command;
    }

    /// <summary>--workload: which profile of the built-in workload to generate.</summary>
    internal static Option<string> WorkloadOption()
    {
        var option = new Option<string>("--workload")
        {
            Description = "built-in workload: video (default; as peaked as video DiTs) or video-hard (broader attention, looser clusters; docs/workload.md)",
            DefaultValueFactory = _ => VideoLikeProfile.Standard.Name,
        };
        option.AcceptOnlyFromAmong([.. VideoLikeProfile.Named.Keys]);
        return option;
    }

    internal static string[] ParseMethods(string list)
    {
        var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => n.ToLowerInvariant()).ToArray();
        foreach (var name in names)
            if (!MethodCatalog.Names.Contains(name))
                throw new ArgumentException($"Unknown method '{name}'. Known methods: {string.Join(", ", MethodCatalog.Names)}.");
        return names.Length > 0 ? names : throw new ArgumentException("--methods names no method.");
    }

    /// <summary>
    /// Runs SVG2 first (at its top_p, or at the target density) and every other method at the
    /// density SVG2 reached (or the target), with a progress bar. The clustering methods start from
    /// copies of one cold-started cache, so they share one clustering.
    /// </summary>
    internal static List<MethodMeasurement> MeasureAll(string[] names, Configuration.Svg2Options options, TokenGrid grid, TextTokens? text,
        Tensor q, Tensor k, Tensor v, double? targetDensity, long? rows, Backends.ISvg2Backend backend)
    {
        var ordered = names.OrderBy(n => n == MethodCatalog.Svg2 ? 0 : 1).ToArray();
        if (targetDensity is null && ordered[0] != MethodCatalog.Svg2 && ordered.Any(n => n != "dense"))
            throw new ArgumentException("Without svg2 among --methods there is no density to compare at: give --density.");
        var measurements = new List<MethodMeasurement>();
        double? coldStart = null;
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask("methods", maxValue: ordered.Length);
                double? equalDensity = targetDensity;
                using var coldCache = new Svg2LayerState();
                foreach (var name in ordered)
                {
                    task.Description = name;
                    bool clusters = MethodCatalog.Clusters(name);
                    if (clusters && coldStart is null) coldStart = ColdStart(options, backend, text, q, k, coldCache);
                    using var cache = clusters ? coldCache.Copy() : null;
                    var method = MethodCatalog.Create(name, options, grid, text, backend, equalDensity, cache);
                    var budget = name == MethodCatalog.Svg2 && targetDensity is null ? new MethodRunner.Budget(Parameter: options.TopP) : new MethodRunner.Budget(TargetDensity: equalDensity);
                    var (measurement, output) = MethodRunner.Run(method, q, k, v, budget, rows);
                    output.Dispose();
                    measurements.Add(measurement);
                    equalDensity ??= name == MethodCatalog.Svg2 ? measurement.MeanDensity : null;
                    task.Increment(1);
                }
            });
        if (coldStart is { } milliseconds)
            AnsiConsole.MarkupLineInterpolated($"svg2 is timed in its steady state: k-means warm-started from the layer's cached centroids ({options.StepIterations} iterations). The cold start that fills the cache once per layer and video ({options.InitIterations} iterations) took {milliseconds:0} ms.");
        return measurements;
    }

    /// <summary>The first call of a layer: k-means from random centroids, which fills the cache.</summary>
    static double ColdStart(Configuration.Svg2Options options, Backends.ISvg2Backend backend, TextTokens? text, Tensor q, Tensor k, Svg2LayerState cache)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        new Svg2Attention(options, backend).Cluster(q.unsqueeze(0), k.unsqueeze(0), cache, text).Dispose();
        if (q.device_type == TorchSharp.DeviceType.CUDA) cuda.synchronize(q.device);
        return clock.Elapsed.TotalMilliseconds;
    }

    static Table HeadKindTable(IReadOnlyList<MethodMeasurement> measurements, IReadOnlyList<HeadKind> kinds, int batch)
    {
        var table = new Table().Title("relative L2 error by head type").Border(TableBorder.Rounded);
        table.AddColumn("head type");
        foreach (var m in measurements) table.AddColumn(new TableColumn(m.Method).RightAligned());
        foreach (var kind in kinds.Distinct())
        {
            var heads = Enumerable.Range(0, batch * kinds.Count).Where(g => kinds[g % kinds.Count] == kind).ToArray();
            table.AddRow([kind.ToString(), .. measurements.Select(m => heads.Average(g => m.RelativeError[g]).ToString("0.0000"))]);
        }
        return table;
    }
}
