using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Svg2.Attention;
using Svg2.Cli.Rendering;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Workloads;
using Svg2.IO;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary><c>svg2 sweep</c>: error and recall against density for every method, as CSV and PNG.</summary>
internal static class SweepCommand
{
    public static Command Create()
    {
        var qkv = new Option<string?>("--qkv") { Description = "safetensors file with q, k, v (default: the built-in workload)" };
        var shape = new Option<string>("--shape") { Description = $"built-in workload shape: {string.Join(", ", VideoShape.Named.Keys)}", DefaultValueFactory = _ => "small" };
        var workload = BenchCommand.WorkloadOption();
        var densities = new Option<string>("--densities") { Description = "comma-separated target densities", DefaultValueFactory = _ => "0.05,0.1,0.15,0.2,0.25,0.3,0.4,0.5" };
        var methods = new Option<string>("--methods") { Description = "comma-separated methods", DefaultValueFactory = _ => "svg2,svg2-ear,blocks,blocks-64,window,oracle" };
        var grid = new Option<string?>("--grid") { Description = "token grid FxHxW of a --qkv sequence, for the window method (default 1x1xS)" };
        var statRows = new Option<long?>("--stat-rows") { Description = "query rows sampled for recall and error (default: all up to 2048 rows, else a seeded sample of 1024)" };
        var outDir = new Option<string>("--out-dir") { Description = "folder for sweep.csv, sweep-error.png and sweep-recall.png", DefaultValueFactory = _ => "sweep" };
        var device = new DeviceOptions();
        var config = new Svg2ConfigOptions();
        var command = new Command("sweep", "Relative error and recall against density for each method (the Pareto picture), as CSV and PNG plots.");
        foreach (var option in new Option[] { qkv, shape, workload, densities, methods, grid, statRows, outDir }) command.Options.Add(option);
        device.AddTo(command);
        config.AddTo(command);
        command.SetAction(result => CommandErrors.Run(() =>
        {
            var names = BenchCommand.ParseMethods(result.GetValue(methods)!);
            CommandErrors.RejectUnused(result, [config.TopP], "sweep searches each method's budget for every density");
            CommandErrors.RejectUnused(result, result.GetValue(qkv) is null ? [grid] : [shape, workload],
                result.GetValue(qkv) is null ? "the built-in workload brings its own token grid" : "with --qkv the inputs come from the file");
            if (!names.Any(MethodCatalog.Clusters)) CommandErrors.RejectUnused(result, config.Svg2Only, "without svg2 or svg2-ear among --methods nothing clusters");
            if (!names.Any(MethodCatalog.KeepsMinimum))
                CommandErrors.RejectUnused(result, [config.MinRatio], "no method among --methods keeps a minimum of blocks");
            CommandErrors.RejectUnused(result, [config.ErrorThreshold], "sweep searches each method's budget for every density");
            config.RejectUnusedBy(result, names);
            var options = config.Build(result);
            var onDevice = device.ResolveDevice(result);
            var targets = ParseDensities(result.GetValue(densities)!);
            var (q, k, v, tokenGrid, text, input) = LoadInputs(result, qkv, shape, workload, grid, device, onDevice, (int)result.GetValue(config.Seed));
            long? rows = result.GetValue(statRows) ?? (q.shape[1] <= QualityRows.FullBelow ? null : QualityRows.Sample);

            var backend = DeviceOptions.ChooseBackend(q, k, v);
            if (names.Contains(MethodCatalog.Svg2Ear)) DeviceOptions.NoteFallback(backend, MethodCatalog.OptionsFor(MethodCatalog.Svg2Ear, options));
            var points = new List<(string Method, double Target, MethodMeasurement Measurement)>();
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("sweep", maxValue: names.Length * targets.Length);
                    foreach (var name in names)
                        // Targets that configure the method alike share one preparation (one clustering).
                        foreach (var group in targets.GroupBy(t => TargetDensityFloor.MinimumRatio(options.MinKeyClusterRatio, t)))
                        {
                            var method = MethodCatalog.Create(name, options, tokenGrid, text, backend, group.First());
                            var clock = System.Diagnostics.Stopwatch.StartNew();
                            using var prepared = method.Prepare(q, k, v);
                            double prepareMilliseconds = clock.Elapsed.TotalMilliseconds;
                            foreach (double target in group)
                            {
                                task.Description = $"{name} at {target:P0}";
                                var (measurement, output) = MethodRunner.Run(name, prepared, prepareMilliseconds, q, k, v, new MethodRunner.Budget(TargetDensity: target), rows);
                                output.Dispose();
                                points.Add((name, target, measurement));
                                task.Increment(1);
                            }
                        }
                });

            string folder = result.GetValue(outDir)!;
            Directory.CreateDirectory(folder);
            WriteCsv(Path.Combine(folder, "sweep.csv"), input, points);
            bool plotted = SweepPlot.Save(Path.Combine(folder, "sweep-error.png"), $"Relative L2 error vs density: {input}", "relative L2 error",
                names.Select(n => (n, points.Where(p => p.Method == n).Select(p => (p.Measurement.MeanDensity, p.Measurement.MeanRelativeError)).ToArray())),
                logarithmic: true);
            plotted &= SweepPlot.Save(Path.Combine(folder, "sweep-recall.png"), $"Recall vs density: {input}", "recall (attention mass kept)",
                names.Select(n => (n, points.Where(p => p.Method == n).Select(p => (p.Measurement.MeanDensity, p.Measurement.MeanRecall)).ToArray())));
            AnsiConsole.Write(SweepTable(names, targets, points));
            AnsiConsole.MarkupLineInterpolated($"wrote {folder}/sweep.csv{(plotted ? ", sweep-error.png, sweep-recall.png" : "")}");
            return 0;
        }));
        return command;
    }

    static double[] ParseDensities(string list)
    {
        var values = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d > 0 && d <= 1 ? d
                : throw new ArgumentException($"--densities holds '{s}'; each must be a number in (0, 1].")).ToArray();
        return values.Length > 0 ? values : throw new ArgumentException("--densities names no density.");
    }

    static (Tensor Q, Tensor K, Tensor V, TokenGrid Grid, TextTokens? Text, string Input) LoadInputs(ParseResult result, Option<string?> qkv,
        Option<string> shape, Option<string> workload, Option<string?> grid, DeviceOptions device, Device onDevice, int seed)
    {
        if (result.GetValue(qkv) is { } path)
        {
            var (q4, k4, v4) = QkvFile.Read(path);
            var dtype = device.ResolveType(result) ?? q4.dtype;
            var (q, k, v) = (Prepare(q4, dtype, onDevice), Prepare(k4, dtype, onDevice), Prepare(v4, dtype, onDevice));
            return (q, k, v, EvalCommand.ParseGrid(result.GetValue(grid), q.shape[1]), null, Path.GetFileName(path));
        }
        var target = VideoShape.FromName(result.GetValue(shape)!);
        var profile = VideoLikeProfile.FromName(result.GetValue(workload)!);
        var sample = VideoLikeWorkload.Generate(target, seed, device.ResolveType(result) ?? DeviceOptions.DefaultType(onDevice), onDevice, profile);
        var text = target.TextTokens > 0 ? new TextTokens(target.TextTokens, target.PromptLength) : (TextTokens?)null;
        var tokenGrid = text is null ? new TokenGrid(target.Frames, target.Height, target.Width) : TokenGrid.Sequence(target.SequenceLength);
        return (AttentionInputs.Flatten(sample.Query), AttentionInputs.Flatten(sample.Key), AttentionInputs.Flatten(sample.Value), tokenGrid, text, $"{profile.Name} {result.GetValue(shape)}");
    }

    static Tensor Prepare(Tensor x, ScalarType dtype, Device onDevice) => AttentionInputs.Flatten(x.to(dtype).to(onDevice));

    static void WriteCsv(string path, string input, IEnumerable<(string Method, double Target, MethodMeasurement Measurement)> points)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine("input,method,target_density,density,parameter,recall,relative_error,floor_share,attend_ms");
        foreach (var (method, target, m) in points)
            writer.WriteLine(string.Join(',', Quote(input), method, F(target), F(m.MeanDensity), F(m.Parameter), F(m.MeanRecall), F(m.MeanRelativeError),
                m.MeanFloorShare is { } floor ? F(floor) : "", F(m.AttendMilliseconds)));
    }

    static string Quote(string text) => text.Contains(',') ? $"\"{text}\"" : text;

    static string F(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    static Table SweepTable(string[] names, double[] targets, List<(string Method, double Target, MethodMeasurement Measurement)> points)
    {
        var table = new Table().Title("relative L2 error (density reached) per target density").Border(TableBorder.Rounded);
        table.AddColumn("target");
        foreach (var name in names) table.AddColumn(new TableColumn(name).RightAligned());
        foreach (double target in targets)
            table.AddRow([MeasurementTable.Percent(target), .. names.Select(n => points.First(p => p.Method == n && p.Target == target).Measurement)
                .Select(m => $"{m.MeanRelativeError:0.0000} ({MeasurementTable.Percent(m.MeanDensity)})")]);
        return table;
    }
}
