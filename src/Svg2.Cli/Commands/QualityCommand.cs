using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Svg2.Cli.Rendering;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Models;
using Svg2.Models.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>
/// <c>svg2 quality</c>: end-to-end quality of every sparse method against dense attention, from the same
/// noise and under the same dense warm-up, at several densities: a table, a CSV, a JSON file and Pareto
/// plots (PSNR and SSIM against density, one line per method).
/// </summary>
internal static class QualityCommand
{
    public static Command Create()
    {
        var modelDir = new Option<string?>("--model-dir") { Description = "Wan 2.1 checkpoint folder; without it, the built-in small footage model" };
        var prompts = new Option<string[]?>("--prompts") { Description = "prompts (built-in model: footage source names; default: every source)", AllowMultipleArgumentsPerToken = true };
        var seeds = new Option<long[]>("--seeds") { Description = "noise seeds", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [1, 2] };
        var methods = new Option<string[]>("--methods") { Description = "sparse methods: svg2, svg2-ear, blocks, window", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => ["svg2", "blocks", "window"] };
        var densities = new Option<double[]>("--densities") { Description = "densities every method is driven to", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [0.1, 0.2, 0.3, 0.4] };
        var denseSteps = new Option<double>("--dense-steps") { Description = "share of the steps that run dense first, for every method (the paper compared at 0.3)", DefaultValueFactory = _ => 0.3 };
        var steps = new Option<int?>("--steps") { Description = "denoising steps (default: the model's)" };
        var size = new Option<string?>("--size") { Description = "WIDTHxHEIGHT (default: the model's)" };
        var frames = new Option<int?>("--frames") { Description = "frame count (default: the model's)" };
        var queryClusters = new Option<int?>("--qc") { Description = "SVG2 query clusters per head (default 300, scaled down for short sequences)" };
        var keyClusters = new Option<int?>("--kc") { Description = "SVG2 key clusters per head (default 1000, scaled down for short sequences)" };
        var stepIterations = Svg2ConfigOptions.StepIterationsOption();
        var kmeansPrecision = Svg2ConfigOptions.KMeansPrecisionOption();
        var dtype = new Option<string?>("--dtype") { Description = "bf16 or f32 (default: bf16 on CUDA, f32 on the CPU)" };
        dtype.AcceptOnlyFromAmong("bf16", "f32");
        var device = new Option<string?>("--device") { Description = "cuda or cpu (default: cuda when available)" };
        device.AcceptOnlyFromAmong("cuda", "cpu");
        var outDir = new Option<string?>("--out-dir") { Description = "folder for quality.csv, quality.json and the PSNR and SSIM plots" };
        var replot = new Option<string?>("--replot") { Description = "redraw the table and the plots of a finished run's folder from its quality.json (for example after a run on a machine without fonts); generates nothing" };
        var ear = new EarOptions();

        var command = new Command("quality", "Generate dense and sparse videos from the same noise and compare them (PSNR, SSIM) at several densities, per method.");
        Option[] run = [modelDir, prompts, seeds, methods, densities, denseSteps, steps, size, frames, queryClusters, keyClusters, stepIterations, kmeansPrecision, dtype, device, outDir, .. ear.All];
        foreach (var option in run.Append(replot)) command.Options.Add(option);
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            if (parse.GetValue(replot) is { } replotFolder)
            {
                CommandErrors.RejectUnused(parse, run, "--replot redraws a finished run's table and plots and generates nothing");
                Write(Path.GetFullPath(replotFolder), ReadPoints(replotFolder));
                return 0;
            }
            if (parse.GetValue(outDir) is null) throw new ArgumentException("quality needs --out-dir (the folder for its CSV, JSON and plots), or --replot FOLDER.");
            var methodNames = parse.GetValue(methods)!.Select(m => m.ToLowerInvariant()).ToList();
            foreach (var name in methodNames)
                if (name == "dense" || !AttentionSetup.Methods.Contains(name))
                    throw new ArgumentException($"--methods takes sparse methods ({string.Join(", ", AttentionSetup.Methods.Where(m => m != "dense"))}); got '{name}'. Dense is always run as the reference.");
            if (!methodNames.Any(MethodCatalog.Clusters))
                CommandErrors.RejectUnused(parse, [queryClusters, keyClusters, stepIterations, kmeansPrecision], "without svg2 or svg2-ear among --methods nothing clusters");
            if (!methodNames.Contains(MethodCatalog.Svg2Ear))
                CommandErrors.RejectUnused(parse, ear.All, "only svg2-ear compensates skipped clusters and routes by error");
            else if (ear.RoutesByTopP(parse))
                CommandErrors.RejectUnused(parse, ear.ErrorRoutingOnly, "svg2-ear with --routing top-p selects by top-p");
            if (parse.GetValue(stepIterations) is < 1) throw new ArgumentException($"--step-iters must be at least 1; got {parse.GetValue(stepIterations)}.");
            var targets = parse.GetValue(densities)!;
            foreach (var d in targets)
                if (!(d > 0 && d <= 1)) throw new ArgumentException($"--densities must lie in (0, 1]; got {d}.");
            var folder = Path.GetFullPath(parse.GetValue(outDir)!);
            Directory.CreateDirectory(folder);
            var onDevice = new Device(parse.GetValue(device) ?? (cuda.is_available() ? "cuda" : "cpu"));
            var weightType = (parse.GetValue(dtype) ?? (onDevice.type == DeviceType.CUDA ? "bf16" : "f32")) == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;

            using var model = VideoModels.Load(parse.GetValue(modelDir), new VideoModelOptions(onDevice, weightType));
            var promptList = parse.GetValue(prompts) ?? DefaultPrompts(model);
            (int Width, int Height)? dimensions = parse.GetValue(size) is { } text ? GenerateCommand.ParseSize(text) : null;
            var requests = (from prompt in promptList
                            from seed in parse.GetValue(seeds)!
                            select model.Defaults with
                            {
                                Prompt = prompt, Seed = seed, Steps = parse.GetValue(steps) ?? model.Defaults.Steps, Frames = parse.GetValue(frames) ?? model.Defaults.Frames,
                                Width = dimensions?.Width ?? model.Defaults.Width, Height = dimensions?.Height ?? model.Defaults.Height,
                            }).ToList();
            var options = new Svg2Options();
            if (parse.GetValue(queryClusters) is { } qc) options = options with { QueryClusters = qc };
            if (parse.GetValue(keyClusters) is { } kc) options = options with { KeyClusters = kc };
            if (parse.GetValue(stepIterations) is { } iterations) options = options with { StepIterations = iterations };
            // svg2 ignores these (MethodCatalog.OptionsFor turns compensation off for it).
            options = Svg2ConfigOptions.ApplyKMeansPrecision(parse, kmeansPrecision, ear.ApplyTo(parse, options));

            AnsiConsole.MarkupLineInterpolated($"[bold]{model.Name}[/]: {requests.Count} videos per method and density, {requests[0].Width}x{requests[0].Height}, {requests[0].Frames} frames, {requests[0].Steps} steps, the first {parse.GetValue(denseSteps):P0} of the steps dense");
            var points = QualityRun.Run(model, requests, methodNames, targets, parse.GetValue(denseSteps), options,
                line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]"));
            Write(folder, points);
            return 0;
        }));
        return command;
    }

    static string[] DefaultPrompts(VideoModel model) =>
        model.Text is Svg2.Models.Small.SourcePromptEncoder sources ? [.. sources.Sources] : [model.Defaults.Prompt];

    static QualityPoint[] ReadPoints(string folder)
    {
        string path = Path.Combine(folder, PointsFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"No quality run to redraw in {folder} (expected {path}).", path);
        var points = JsonSerializer.Deserialize(File.ReadAllText(path), QualityJsonContext.Default.QualityPointArray);
        if (points is not { Length: > 0 } || !points.Any(p => p.Method == "dense") || points.All(p => p.Method == "dense"))
            throw new InvalidDataException($"{path} holds no quality run: it needs the dense reference and at least one sparse method.");
        return points;
    }

    const string PointsFileName = "quality.json";

    static void Write(string folder, IReadOnlyList<QualityPoint> points)
    {
        var groups = points.Where(p => p.Method != "dense").GroupBy(p => (p.Method, p.TargetDensity)).OrderBy(g => g.Key.Method).ThenBy(g => g.Key.TargetDensity).ToList();
        var dense = points.Where(p => p.Method == "dense").ToList();
        var table = new Table().Title("against the dense video from the same noise (means over prompts and seeds)")
            .AddColumns("method", "target density", "density (sparse steps)", "density (all steps)", "PSNR (dB)", "SSIM", "worst frame PSNR", "step (ms)", "self-attention (ms)");
        table.AddRow("dense", "", "100%", "100%", "reference", "1", "", F(dense.Average(p => p.StepMs), 1), F(dense.Average(p => p.AttentionMs), 1));
        foreach (var g in groups)
            table.AddRow(g.Key.Method, $"{g.Key.TargetDensity:P0}", $"{g.Average(p => p.Density):P1}", $"{g.Average(p => p.OverallDensity):P1}",
                F(g.Average(p => p.Psnr), 2), F(g.Average(p => p.Ssim), 4), F(g.Min(p => p.MinPsnr), 2), F(g.Average(p => p.StepMs), 1), F(g.Average(p => p.AttentionMs), 1));
        AnsiConsole.Write(table);

        var csv = new StringBuilder("prompt,seed,method,target_density,density,overall_density,psnr_db,ssim,min_psnr_db,step_ms,attention_ms\n");
        foreach (var p in points)
            csv.AppendLine(string.Join(",", Quote(p.Prompt), p.Seed, p.Method, p.TargetDensity?.ToString("R", CultureInfo.InvariantCulture) ?? "",
                F(p.Density, 6), F(p.OverallDensity, 6), F(p.Psnr, 4), F(p.Ssim, 6), F(p.MinPsnr, 4), F(p.StepMs, 3), F(p.AttentionMs, 3)));
        File.WriteAllText(Path.Combine(folder, "quality.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(folder, PointsFileName), JsonSerializer.Serialize(points.ToArray(), QualityJsonContext.Default.QualityPointArray));
        var series = groups.GroupBy(g => g.Key.Method).ToList();
        bool plotted = SweepPlot.Save(Path.Combine(folder, "quality-psnr.png"), "PSNR against the dense video", "PSNR (dB)",
            series.Select(m => (m.Key, m.Select(g => (g.Average(p => p.Density), g.Average(p => p.Psnr))).ToArray())));
        plotted &= SweepPlot.Save(Path.Combine(folder, "quality-ssim.png"), "SSIM against the dense video", "SSIM",
            series.Select(m => (m.Key, m.Select(g => (g.Average(p => p.Density), g.Average(p => p.Ssim))).ToArray())));
        AnsiConsole.MarkupLineInterpolated($"wrote quality.csv, quality.json{(plotted ? ", quality-psnr.png and quality-ssim.png" : "")} to [bold]{folder}[/]");
    }

    static string F(double value, int digits) => value.ToString("F" + digits, CultureInfo.InvariantCulture);

    static string Quote(string text) => "\"" + text.Replace("\"", "\"\"") + "\"";
}
