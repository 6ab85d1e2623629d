using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Svg2.Cli.Rendering;
using Svg2.Models.Data;
using Svg2.Models.Small;
using Svg2.Models.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>
/// <c>svg2 train</c>: trains the small footage model on a clip dataset with Wan's flow-matching objective,
/// checkpointing to a run folder so that a run split over several time-limited invocations continues
/// exactly (--resume); every invocation exports the moving-average weights in bf16 with the logs, the loss
/// plot and the commands, and a finished run adds a sample grid. --profile times the phases of a few
/// steps instead, to calibrate a run's schedule.
/// </summary>
internal static class TrainCommand
{
    // Seconds a time-limited invocation keeps for the export and the sample grid after training stops.
    const double ExportReserveSeconds = 20;
    const int ProfileWarmupSteps = 3;
    const int DefaultProfileSteps = 20;
    const int SampleFramesPerRow = 6;
    const string CommandsFileName = "commands.txt";
    const string DefaultRunFolder = "train-run";
    const long ShippedModelLimitBytes = 40_000_000;
    // The sustained bf16 rate a training step of this size may reach on an H100, for the FLOP-based estimate.
    const double AssumedTflops = 300;

    public static Command Create()
    {
        var defaults = new TrainingOptions();
        var data = new Option<string?>("--data") { Description = "clip dataset (from svg2 data) to train on; with --resume, the run's own by default" };
        var run = new Option<string?>("--run") { Description = $"folder for a new run's checkpoint, logs and plots (default: {DefaultRunFolder})" };
        var resume = new Option<string?>("--resume") { Description = "continue the run in this folder with its own options" };
        var export = new Option<string?>("--export") { Description = "folder for the exported model, logs, plots and commands (default: <run>/export)" };
        var model = new Option<string>("--model") { Description = "footage (width 384, 8 layers) or tiny (smoke tests)", DefaultValueFactory = _ => defaults.Model };
        model.AcceptOnlyFromAmong("footage", "tiny");
        var steps = new Option<int?>("--steps") { Description = "optimiser steps of the whole run" };
        var budget = new Option<double?>("--budget-minutes") { Description = $"training time of the whole run instead of --steps: the step count is fixed after {TrainingOptions.CalibrationSteps} timed steps" };
        var batch = new Option<int>("--batch") { Description = "clips per step", DefaultValueFactory = _ => defaults.Batch };
        var learningRate = new Option<double>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => defaults.LearningRate };
        var warmup = new Option<int>("--warmup") { Description = "linear warm-up steps", DefaultValueFactory = _ => defaults.WarmupSteps };
        var schedule = new Option<string>("--schedule") { Description = "cosine or constant after warm-up", DefaultValueFactory = _ => "cosine" };
        schedule.AcceptOnlyFromAmong("cosine", "constant");
        var floor = new Option<double>("--min-lr-ratio") { Description = "the cosine's end as a fraction of the peak", DefaultValueFactory = _ => defaults.MinLearningRateRatio };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay", DefaultValueFactory = _ => defaults.WeightDecay };
        var clip = new Option<double>("--grad-clip") { Description = "largest global gradient norm", DefaultValueFactory = _ => defaults.GradientClip };
        var emaDecay = new Option<double>("--ema-decay") { Description = "decay of the weights' moving average", DefaultValueFactory = _ => defaults.EmaDecay };
        var dropout = new Option<double>("--cond-dropout") { Description = "probability of training an example with the null condition", DefaultValueFactory = _ => defaults.ConditionDropout };
        var timesteps = new Option<string>("--timesteps") { Description = "noise-level draw before the shift: logit-normal or uniform", DefaultValueFactory = _ => "logit-normal" };
        timesteps.AcceptOnlyFromAmong("logit-normal", "uniform");
        var shift = new Option<double>("--shift") { Description = "flow shift of the training noise levels (and the model's sampling shift)", DefaultValueFactory = _ => defaults.Shift };
        var balance = new Option<double>("--source-balance") { Description = "beta in [0, 1]: draw a clip with probability proportional to (its source's training clips)^-beta; 1 draws every source equally often", DefaultValueFactory = _ => defaults.SourceBalance };
        var noFlip = new Option<bool>("--no-flip") { Description = "do not mirror training clips left to right" };
        var seed = new Option<long>("--seed") { Description = "seed of the weights, batches, noise levels and noise", DefaultValueFactory = _ => defaults.Seed };
        var evalEvery = new Option<int>("--eval-every") { Description = "steps between held-out evaluations", DefaultValueFactory = _ => defaults.EvalEvery };
        var evalLevels = new Option<int>("--eval-levels") { Description = "noise levels of the held-out loss", DefaultValueFactory = _ => defaults.EvalLevels };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "steps between checkpoints", DefaultValueFactory = _ => defaults.CheckpointEvery };
        var initial = new Option<string?>("--init") { Description = "start a new run from this exported model's weights (same preset and clips) instead of Wan's initialisation" };
        var precision = new Option<string?>("--precision") { Description = "bf16 or f32 compute (float32 weights either way; default: bf16 on CUDA, f32 on the CPU)" };
        precision.AcceptOnlyFromAmong("bf16", "f32");
        var device = new Option<string?>("--device") { Description = "cuda or cpu (default: cuda when available)" };
        device.AcceptOnlyFromAmong("cuda", "cpu");
        var maxMinutes = new Option<double?>("--max-minutes") { Description = "wall time this invocation may take; it stops in time to checkpoint and export" };
        var maxSteps = new Option<int?>("--max-steps") { Description = $"steps this invocation may take (with --profile: steps timed, default {DefaultProfileSteps})" };
        var profile = new Option<bool>("--profile") { Description = "time the phases of a few steps of a new model and one held-out evaluation; writes nothing" };
        var logEvery = new Option<int>("--log-every") { Description = "steps between progress lines", DefaultValueFactory = _ => 50 };
        var noSamples = new Option<bool>("--no-samples") { Description = "do not generate the sample grid when the run finishes" };
        var replot = new Option<string?>("--replot") { Description = "redraw loss.png of a run or export folder from its logs (for example after a run on a machine without fonts); trains nothing" };

        Option[] recipe = [model, steps, budget, batch, learningRate, warmup, schedule, floor, weightDecay, clip, emaDecay, dropout, timesteps, shift, noFlip, balance, seed,
            evalEvery, evalLevels, checkpointEvery, precision, initial];
        var command = new Command("train", "Train the small footage model (Wan architecture, pixel-unshuffle latents, per-source conditioning) on a clip dataset, resumably.");
        Option[] invocation = [data, run, resume, export, device, maxMinutes, maxSteps, profile, logEvery, noSamples];
        foreach (var option in recipe.Concat(invocation).Append(replot)) command.Options.Add(option);

        command.SetAction(parse => CommandErrors.Run(() =>
        {
            if (parse.GetValue(replot) is { } plotFolder)
            {
                CommandErrors.RejectUnused(parse, [.. recipe, .. invocation], "--replot redraws a folder's loss plot and trains nothing");
                Replot(plotFolder);
                return 0;
            }
            var clock = Stopwatch.StartNew();
            var onDevice = ResolveDevice(parse.GetValue(device));
            if (parse.GetValue(logEvery) < 1) throw new ArgumentException($"--log-every must be at least 1; got {parse.GetValue(logEvery)}.");
            if (parse.GetValue(maxSteps) is < 1) throw new ArgumentException($"--max-steps must be at least 1; got {parse.GetValue(maxSteps)}.");
            if (parse.GetValue(maxMinutes) is { } minutes && !(minutes > 0)) throw new ArgumentException($"--max-minutes must be positive; got {minutes}.");
            TrainingOptions Options() => new()
            {
                Model = parse.GetValue(model)!, Steps = parse.GetValue(steps), BudgetMinutes = parse.GetValue(budget), Batch = parse.GetValue(batch),
                LearningRate = parse.GetValue(learningRate), WarmupSteps = parse.GetValue(warmup),
                Schedule = parse.GetValue(schedule) == "constant" ? LearningRateShape.Constant : LearningRateShape.Cosine,
                MinLearningRateRatio = parse.GetValue(floor), WeightDecay = parse.GetValue(weightDecay), GradientClip = parse.GetValue(clip),
                EmaDecay = parse.GetValue(emaDecay), ConditionDropout = parse.GetValue(dropout),
                Timesteps = parse.GetValue(timesteps) == "uniform" ? TimestepSampling.Uniform : TimestepSampling.LogitNormal,
                Shift = parse.GetValue(shift), HorizontalFlip = !parse.GetValue(noFlip), SourceBalance = parse.GetValue(balance), Seed = parse.GetValue(seed), EvalEvery = parse.GetValue(evalEvery),
                EvalLevels = parse.GetValue(evalLevels), CheckpointEvery = parse.GetValue(checkpointEvery), InitialWeights = parse.GetValue(initial),
                Precision = parse.GetValue(precision) switch
                {
                    "bf16" => ComputePrecision.BFloat16,
                    "f32" => ComputePrecision.Float32,
                    _ => onDevice.type == DeviceType.CUDA ? ComputePrecision.BFloat16 : ComputePrecision.Float32,
                },
            };

            if (parse.GetValue(profile))
            {
                CommandErrors.RejectUnused(parse, [resume, run, export, maxMinutes, noSamples, logEvery, steps, checkpointEvery],
                    "--profile times steps of a new model (--max-steps of them) and writes nothing");
                string dataPath = parse.GetValue(data) ?? throw new ArgumentException("--profile needs --data.");
                Profile(dataPath, Options(), onDevice, parse.GetValue(maxSteps) ?? DefaultProfileSteps);
                return 0;
            }

            SmallVideoTrainer trainer;
            string runFolder;
            if (parse.GetValue(resume) is { } resumeFolder)
            {
                CommandErrors.RejectUnused(parse, [.. recipe, run], "--resume continues a run with its own options");
                string checkpoint = CheckpointPath(resumeFolder);
                if (!File.Exists(checkpoint)) throw new FileNotFoundException($"No training checkpoint in {resumeFolder} (expected {checkpoint}).", checkpoint);
                var header = TrainingCheckpoint.ReadHeader(checkpoint);
                string dataPath = parse.GetValue(data) ?? header.Dataset.Path;
                using var clips = ClipDataset.Read(dataPath);
                trainer = SmallVideoTrainer.Resume(resumeFolder, clips, dataPath, onDevice);
                runFolder = resumeFolder;
            }
            else
            {
                string dataPath = parse.GetValue(data) ?? throw new ArgumentException("A new run needs --data (or --resume a run).");
                runFolder = parse.GetValue(run) ?? DefaultRunFolder;
                if (File.Exists(CheckpointPath(runFolder)))
                    throw new ArgumentException($"{runFolder} already holds a run: continue it with --resume {runFolder}, or name another --run folder.");
                var options = Options();
                if (options.Steps is null && options.BudgetMinutes is null) throw new ArgumentException("A new run needs --steps or --budget-minutes.");
                using var clips = ClipDataset.Read(dataPath);
                trainer = SmallVideoTrainer.Start(clips, dataPath, options, onDevice, runFolder);
            }
            using (trainer)
            {
                File.AppendAllText(Path.Combine(runFolder, CommandsFileName), CommandLine(parse) + "\n");
                Describe(trainer, onDevice);
                TimeSpan? limit = parse.GetValue(maxMinutes) is { } m
                    ? TimeSpan.FromSeconds(Math.Max(0, m * 60 - clock.Elapsed.TotalSeconds - ExportReserveSeconds))
                    : null;
                var progress = new ProgressLines(trainer, parse.GetValue(logEvery));
                trainer.Run(limit, parse.GetValue(maxSteps), progress.Observe);

                string exportFolder = parse.GetValue(export) ?? Path.Combine(runFolder, "export");
                Export(trainer, runFolder, exportFolder, onDevice, samples: trainer.Finished && !parse.GetValue(noSamples));
                if (trainer.Finished)
                    AnsiConsole.MarkupLineInterpolated($"[green]finished[/] all {trainer.Step} steps in {trainer.TrainingSeconds / 60:0.0} min of training");
                else
                    AnsiConsole.MarkupLineInterpolated($"[yellow]stopped[/] at step {trainer.Step} of {trainer.TotalSteps?.ToString(CultureInfo.InvariantCulture) ?? "(not fixed yet)"}; continue with: svg2 train --resume {runFolder}");
            }
            return 0;
        }));
        return command;
    }

    static string CheckpointPath(string runFolder) => Path.Combine(runFolder, TrainingCheckpoint.FileName);

    static Device ResolveDevice(string? name)
    {
        if (name == "cpu" || (name is null && !cuda.is_available())) return CPU;
        if (!cuda.is_available())
            throw new NotSupportedException("CUDA is not available: this build ships the CPU libtorch, or no GPU and driver were found. " +
                "Build with -p:LibTorch=external and put a CUDA libtorch (for example PyTorch's torch/lib) on LD_LIBRARY_PATH.");
        return CUDA;
    }

    static string CommandLine(ParseResult parse) =>
        "svg2 " + string.Join(' ', parse.Tokens.Select(t => t.Value.Any(char.IsWhiteSpace) ? $"\"{t.Value}\"" : t.Value));

    static void Describe(SmallVideoTrainer trainer, Device device)
    {
        var config = trainer.Config;
        var options = trainer.Options;
        long parameters = trainer.Weights.ParameterCount;
        var (training, heldOut) = trainer.Clips;
        var table = new Table().Border(TableBorder.Rounded).HideHeaders().AddColumn("").AddColumn("");
        table.AddRow("model", $"{options.Model}: width {config.Dim}, {config.Heads} heads of {config.Dim / config.Heads}, {config.Layers} layers, feed-forward {config.FfnDim}; " +
            $"{parameters / 1e6:0.00} M parameters ({parameters * 2 / 1e6:0.0} MB in bf16)");
        table.AddRow("clips", $"{config.Frames} frames of {config.Width}x{config.Height} -> latents {config.LatentChannels}x{config.Frames}x{config.Height / config.SpatialFactor}x{config.Width / config.SpatialFactor}, " +
            $"{config.Tokens} tokens; {training} training and {heldOut} held-out clips of {config.Sources.Length} sources");
        table.AddRow("recipe", $"batch {options.Batch}, lr {options.LearningRate:G3} (warm-up {options.WarmupSteps}, {options.Schedule.ToString().ToLowerInvariant()}), " +
            $"{options.Timesteps} levels with shift {options.Shift:G3}, source balance {options.SourceBalance:G3}, {options.Precision} compute on {device.type.ToString().ToLowerInvariant()}");
        table.AddRow("run", $"step {trainer.Step} of {trainer.TotalSteps?.ToString(CultureInfo.InvariantCulture) ?? $"(fixed within a {options.BudgetMinutes:G3}-minute budget)"}, " +
            $"{trainer.TrainingSeconds / 60:0.0} min trained so far; {TrainingFlops.TrainingStep(config, options.Batch) / 1e12:G3} TFLOP per step");
        AnsiConsole.Write(table);
    }

    static void Profile(string dataPath, TrainingOptions requested, Device device, int stepCount)
    {
        var options = requested with { Steps = ProfileWarmupSteps + stepCount, BudgetMinutes = null };
        using var clips = ClipDataset.Read(dataPath);
        using var trainer = SmallVideoTrainer.Start(clips, dataPath, options, device, runFolder: null);
        Describe(trainer, device);
        var timer = new StepPhaseTimer(device);
        for (int i = 0; i < ProfileWarmupSteps; i++) trainer.TrainStep(timer);
        timer.Reset();
        for (int i = 0; i < stepCount; i++) trainer.TrainStep(timer);
        var evaluation = Stopwatch.StartNew();
        trainer.EvaluateHeldOut();
        double evalSeconds = evaluation.Elapsed.TotalSeconds;

        double stepMs = timer.Milliseconds.Values.Sum() / timer.Steps;
        double flops = TrainingFlops.TrainingStep(trainer.Config, options.Batch);
        var table = new Table().Title($"training step, mean of {timer.Steps} after {ProfileWarmupSteps} warm-up (device synchronised per phase)").Border(TableBorder.Rounded);
        table.AddColumn("phase").AddColumn(new TableColumn("ms").RightAligned()).AddColumn(new TableColumn("share").RightAligned());
        foreach (var phase in timer.Phases)
            table.AddRow(phase, (timer.Milliseconds[phase] / timer.Steps).ToString("0.0"), (timer.Milliseconds[phase] / timer.Steps / stepMs).ToString("P0"));
        table.AddRow("[bold]step[/]", stepMs.ToString("0.0"), "");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"{options.Batch / (stepMs / 1000):0.0} clips/s; {flops / 1e12:G3} TFLOP per step (matrix products) -> {flops / (stepMs / 1000) / 1e12:G3} TFLOP/s achieved; FLOP-based estimate at {AssumedTflops:0} TFLOP/s: {flops / (AssumedTflops * 1e12) * 1000:G3} ms per step");
        double perStep = stepMs / 1000 + evalSeconds / options.EvalEvery;
        AnsiConsole.MarkupLineInterpolated($"held-out evaluation (both weight sets): {evalSeconds:0.00} s; with an evaluation every {options.EvalEvery} steps: {600 / perStep:0} steps per 10 minutes");
        if (requested.BudgetMinutes is { } budget)
            AnsiConsole.MarkupLineInterpolated($"a {budget:G3}-minute budget gives about {(budget * 60 - evalSeconds) / perStep:0} steps (--budget-minutes fixes the exact count in the run)");
    }

    static void Replot(string folder)
    {
        string log = Path.Combine(folder, TrainingLog.StepFileName);
        if (!File.Exists(log)) throw new FileNotFoundException($"No training log to plot in {folder} (expected {log}).", log);
        int steps = TrainingLog.ReadSteps(log).Select(s => s.Step).DefaultIfEmpty(0).Max();
        string path = Path.Combine(folder, LossPlotFileName);
        if (LossPlot.Save(folder, path, LossPlotTitle(steps))) AnsiConsole.MarkupLineInterpolated($"wrote {path}");
    }

    const string LossPlotFileName = "loss.png";

    static string LossPlotTitle(int steps) => $"Small footage model: loss over {steps} steps";

    static void Export(SmallVideoTrainer trainer, string runFolder, string exportFolder, Device device, bool samples)
    {
        string modelPath = trainer.Export(exportFolder);
        if (LossPlot.Save(runFolder, Path.Combine(runFolder, LossPlotFileName), LossPlotTitle(trainer.Step)))
            File.Copy(Path.Combine(runFolder, LossPlotFileName), Path.Combine(exportFolder, LossPlotFileName), overwrite: true);
        if (Path.GetFullPath(runFolder) != Path.GetFullPath(exportFolder))
            File.Copy(Path.Combine(runFolder, CommandsFileName), Path.Combine(exportFolder, CommandsFileName), overwrite: true);
        long bytes = new FileInfo(modelPath).Length;
        AnsiConsole.MarkupLineInterpolated($"exported the moving-average weights (bf16, {bytes / 1e6:0.0} MB) to {modelPath}, with the logs, loss.png and {CommandsFileName}");
        if (bytes > ShippedModelLimitBytes)
            AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] the file is over the {ShippedModelLimitBytes / 1e6:0} MB a shipped model may take.");
        // The sample grid is a PNG drawn with SkiaSharp as the plots are: skipped, with the plots' note, where it cannot load.
        if (!samples || !PlotFonts.Ensure()) return;
        string gridPath = Path.Combine(exportFolder, "samples.png");
        WriteSampleGrid(trainer, modelPath, device, gridPath);
        AnsiConsole.MarkupLineInterpolated($"wrote {gridPath}: per source, a training clip then a generated video (seed = source index), {SampleFramesPerRow} frames each");
    }

    // The exported file itself is loaded, as generation will load it.
    static void WriteSampleGrid(SmallVideoTrainer trainer, string modelPath, Device device, string path)
    {
        using var model = SmallVideoModelFile.Read(modelPath, device, device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32);
        var sampler = new SmallVideoSampler(model);
        var examples = trainer.ExampleClips();
        var rows = new List<Tensor>();
        try
        {
            for (int source = 0; source < model.Config.Sources.Length; source++)
            {
                if (examples[source] is { } clip) rows.Add(clip);
                rows.Add(sampler.Generate(model.Config.Sources[source], seed: source));
            }
            using var grid = SampleGrid.Compose(rows, SampleFramesPerRow);
            PngImage.Save(grid, path);
        }
        finally
        {
            foreach (var row in rows) row.Dispose();
        }
    }

    /// <summary>A progress line every few steps (loss averaged over them) and one per held-out evaluation.</summary>
    sealed class ProgressLines(SmallVideoTrainer trainer, int every)
    {
        readonly List<double> _losses = [];
        readonly Stopwatch _clock = Stopwatch.StartNew();
        int _stepsAtClock = trainer.Step;

        public void Observe(TrainingEvent e)
        {
            if (e.Step is { } step)
            {
                _losses.Add(step.Loss);
                if (step.Step % every != 0 && step.Step != trainer.TotalSteps) return;
                double rate = (step.Step - _stepsAtClock) / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);
                string total = trainer.TotalSteps?.ToString(CultureInfo.InvariantCulture) ?? "?";
                string eta = trainer.TotalSteps is { } all ? $", {(all - step.Step) / Math.Max(rate, 1e-9) / 60:0.0} min left" : "";
                AnsiConsole.MarkupLineInterpolated($"step {step.Step}/{total}  loss {_losses.Average():0.0000}  lr {step.LearningRate:0.00e0}  grad norm {step.GradientNorm:0.000}  {rate:0.00} steps/s{eta}");
                _losses.Clear();
                _clock.Restart();
                _stepsAtClock = step.Step;
            }
            else if (e.HeldOut is { } heldOut)
            {
                string levels = string.Join(" ", heldOut.Average.PerLevel.Select(l => l.ToString("0.000", CultureInfo.InvariantCulture)));
                AnsiConsole.MarkupLineInterpolated($"held-out loss at step {heldOut.Step}: weights {heldOut.Weights.Mean:0.0000}, moving average {heldOut.Average.Mean:0.0000} (per level {levels})");
            }
        }
    }
}
