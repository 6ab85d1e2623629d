using System.Diagnostics;
using System.Text.Json;
using Svg2.Models.Data;
using Svg2.Models.Kernels;
using Svg2.Models.Small;
using Svg2.Models.Wan;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// Trains a small footage model from scratch with Wan's flow-matching objective (see
/// <see cref="TrainingOptions"/> for the recipe), evaluates the held-out loss, and checkpoints to a run
/// folder so that a run can stop within a time limit and resume exactly where it stopped (on a CPU,
/// bit for bit; on a GPU up to the nondeterminism of its kernels).
/// </summary>
/// <remarks>
/// The run folder holds <see cref="TrainingCheckpoint.FileName"/> and the logs of <see cref="TrainingLog"/>.
/// Random draws: a CPU generator for batches, flips, condition dropout and noise levels, seeded from the options
/// and saved in checkpoints, and the noise of <see cref="StepNoise"/>, a function of the seed and the step.
/// </remarks>
public sealed class SmallVideoTrainer : IDisposable
{
    /// <summary>The exported model's file name.</summary>
    public const string ModelFileName = "model.safetensors";

    // Seconds kept free at the end of a time-limited invocation for the last evaluation and checkpoint, beyond
    // the measured evaluation time.
    const double StopReserveSeconds = 10;
    // The first steps (device start, kernel selection) are left out of the calibrated step time.
    const int CalibrationWarmupSteps = 5;

    readonly TrainingOptions _options;
    readonly DatasetFingerprint _dataset;
    readonly ClipBatches _data;
    readonly SmallVideoModel _master;
    readonly ExponentialMovingAverage _average;
    readonly ComputeReplica _replica;
    readonly SmallVideoModel _evaluator;
    readonly ParameterBuffer _masterBuffer;
    readonly FlatAdamW _optimizer;
    readonly Generator _host;
    readonly StepNoise _noise;
    readonly HeldOutEvaluation _heldOut;
    readonly LearningRateSchedule _schedule;
    readonly string? _folder;
    readonly TrainingLog? _log;
    int _step;
    int? _totalSteps;
    double _trainingSeconds;
    double _evalSeconds;

    SmallVideoTrainer(TrainingOptions options, SmallVideoConfig config, ChannelNormalisation normalisation, ClipDataset data,
        DatasetFingerprint dataset, Device device, string? folder, int? resumeStep)
    {
        options.Validate();
        _options = options;
        _dataset = dataset;
        _folder = folder;
        var sampling = SmallVideoSampling.Default with { Shift = options.Shift };
        _master = new SmallVideoModel(config, normalisation, sampling, device);
        _master.Initialise(options.Seed);
        if (resumeStep is null && options.InitialWeights is { } initial)
        {
            using var trained = SmallVideoModelFile.Read(initial, device);
            _master.CopyFrom(trained);
        }
        _masterBuffer = ParameterBuffer.Flatten(_master, gradients: true);
        var average = new SmallVideoModel(config, normalisation, sampling, device);
        average.CopyFrom(_master);
        _average = new ExponentialMovingAverage(average, options.EmaDecay);
        var computeType = options.Precision.ToScalarType();
        _replica = new ComputeReplica(_master, _masterBuffer, computeType);
        _evaluator = new SmallVideoModel(config, normalisation, sampling, device, computeType);
        // Evaluation computes as training does: reference numerics and the portable block operations.
        _evaluator.Transformer.Numerics = WanNumerics.Reference;
        _evaluator.Transformer.BlockKernels = TorchWanBlockKernels.Instance;
        _optimizer = new FlatAdamW(_masterBuffer, options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay);
        _schedule = LearningRateSchedule.For(options);
        _host = new Generator((ulong)options.Seed + 1);
        _noise = new StepNoise(options.Seed, device);
        _data = new ClipBatches(data, _master.Codec, device, options.HorizontalFlip, options.SourceBalance);
        var (heldOutLatents, heldOutSources) = _data.HeldOut();
        using (heldOutLatents)
        using (heldOutSources)
            _heldOut = new HeldOutEvaluation(heldOutLatents, heldOutSources, options.EvalLevels, options.Batch);
        _totalSteps = options.Steps;
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
            _log = TrainingLog.Open(folder, _heldOut.Levels, resumeStep);
        }
    }

    /// <summary>
    /// Starts a run from scratch on <paramref name="data"/>: the model preset of the options sized to the
    /// dataset's clips (and at its frame rate), the codec's statistics measured on its training clips, Wan's
    /// initialisation.
    /// </summary>
    /// <param name="data">The clips.</param>
    /// <param name="dataPath">Where they were read from (recorded in checkpoints).</param>
    /// <param name="options">The recipe.</param>
    /// <param name="device">Where to train.</param>
    /// <param name="runFolder">Where checkpoints and logs go (none when null: nothing is written).</param>
    /// <exception cref="ArgumentException">The options, or the dataset's clip size for the model, cannot work.</exception>
    public static SmallVideoTrainer Start(ClipDataset data, string dataPath, TrainingOptions options, Device device, string? runFolder)
    {
        options.Validate();
        var (frames, height, width) = ((int)data.Clips.shape[1], (int)data.Clips.shape[2], (int)data.Clips.shape[3]);
        var config = SmallVideoConfig.Named(options.Model, data.Sources.ToArray(), frames, height, width) with { Fps = data.Fps };
        config.Validate();
        using var training = data.Clips[data.HeldOut.eq(0)];
        if (training.shape[0] == 0) throw new ArgumentException($"{dataPath}: every clip is held out; nothing to train on.");
        var normalisation = options.InitialWeights is { } initial
            ? InitialNormalisation(initial, config)
            : ChannelNormalisation.Measure(training, config.SpatialFactor);
        return new SmallVideoTrainer(options, config, normalisation, data, DatasetFingerprint.Of(data, dataPath), device, runFolder, resumeStep: null);
    }

    /// <summary>The channel statistics of the model file a run starts from, once its configuration is known to be the run's.</summary>
    /// <exception cref="ArgumentException">The file describes another model or other clips.</exception>
    static ChannelNormalisation InitialNormalisation(string path, SmallVideoConfig config)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No model file to start the run from at {path}.", path);
        var (fileConfig, normalisation, _, _) = SmallVideoModelFile.ReadMetadata(path);
        if (!fileConfig.Sources.SequenceEqual(config.Sources) || fileConfig with { Sources = config.Sources } != config)
            throw new ArgumentException($"{path} holds a model for other clips or another preset: its configuration is {Describe(fileConfig)}, " +
                $"this run's is {Describe(config)}.");
        return normalisation;
    }

    static string Describe(SmallVideoConfig config) =>
        $"width {config.Dim}, {config.Layers} layers, {config.Frames} frames of {config.Width}x{config.Height} at {config.Fps:G4} fps, sources [{string.Join(", ", config.Sources)}]";

    /// <summary>Continues the run whose checkpoint is in <paramref name="runFolder"/>, with its options, on the same clips.</summary>
    /// <exception cref="FileNotFoundException">The folder holds no checkpoint.</exception>
    /// <exception cref="ArgumentException">The dataset is not the one the run trained on.</exception>
    /// <exception cref="Checkpoints.CheckpointException">The checkpoint is unreadable or does not fit.</exception>
    public static SmallVideoTrainer Resume(string runFolder, ClipDataset data, string dataPath, Device device)
    {
        var path = Path.Combine(runFolder, TrainingCheckpoint.FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"No training checkpoint in {runFolder} (expected {path}).", path);
        var header = TrainingCheckpoint.ReadHeader(path);
        header.Dataset.RequireSameData(DatasetFingerprint.Of(data, dataPath));
        var trainer = new SmallVideoTrainer(header.Options, header.Config, header.Normalisation, data, header.Dataset, device, runFolder, header.Step);
        try
        {
            TrainingCheckpoint.Restore(path, trainer._master, trainer._masterBuffer, trainer._average.Model, trainer._optimizer, trainer._host);
            trainer._step = header.Step;
            trainer._totalSteps = header.TotalSteps;
            trainer._trainingSeconds = header.TrainingSeconds;
            trainer._evalSeconds = header.EvalSeconds;
            return trainer;
        }
        catch
        {
            trainer.Dispose();
            throw;
        }
    }

    /// <summary>The run's options.</summary>
    public TrainingOptions Options => _options;

    /// <summary>The model being trained.</summary>
    public SmallVideoConfig Config => _master.Config;

    /// <summary>Optimiser steps done.</summary>
    public int Step => _step;

    /// <summary>The run's step count: the options' count, or the one fixed from the time budget (null until then).</summary>
    public int? TotalSteps => _totalSteps;

    /// <summary>Whether every step of the run is done.</summary>
    public bool Finished => _totalSteps is { } total && _step >= total;

    /// <summary>Seconds spent training over every invocation.</summary>
    public double TrainingSeconds => _trainingSeconds;

    /// <summary>Training and held-out clips.</summary>
    public (long Training, long HeldOut) Clips => (_data.TrainingCount, _data.HeldOutCount);

    /// <summary>The float32 weights the optimiser updates.</summary>
    public SmallVideoModel Weights => _master;

    /// <summary>The moving average of the weights (what is exported).</summary>
    public SmallVideoModel Average => _average.Model;

    /// <summary>The run folder, or null when nothing is written.</summary>
    public string? Folder => _folder;

    /// <summary>The first training clip of every source, [1, 3, F, H, W] in [-1, 1] on the CPU (null for a source without one), for sample grids.</summary>
    public Tensor?[] ExampleClips() => _data.FirstClipPerSource(Config.Sources.Length);

    /// <summary>One optimiser step on a random batch; <paramref name="timer"/> (profiling) times its phases.</summary>
    /// <exception cref="InvalidOperationException">The loss is not finite (the weights are left unchanged), or the run is finished.</exception>
    public TrainingStepResult TrainStep(StepPhaseTimer? timer = null)
    {
        if (Finished) throw new InvalidOperationException($"The run is finished: all {_totalSteps} steps are done.");
        using var scope = NewDisposeScope();
        timer?.Begin();
        double learningRate = _schedule.At(_step, _totalSteps);

        int batch = _options.Batch;
        var (x0, sources) = _data.Next(batch, _host);
        var dropped = rand([batch], ScalarType.Float64, generator: _host).lt(_options.ConditionDropout);
        var entries = sources.masked_fill(dropped, _master.Conditioning.NullIndex);
        var levels = tensor(FlowMatching.DrawLevels(batch, _options.Timesteps, _options.Shift, _host)).to(ScalarType.Float32, x0.device);
        var noise = _noise.Draw(x0.shape, _step);
        var noisy = FlowMatching.NoisySample(x0, noise, levels);
        var target = FlowMatching.Target(x0, noise);
        timer?.Mark("batch");

        _replica.Refresh();
        var predicted = _replica.Model.PredictFlowWithGradients(noisy, levels * FlowMatching.TimestepScale, entries);
        var loss = FlowMatching.Loss(predicted, target);
        timer?.Mark("forward");

        loss.backward();
        // Read once the backward is queued, so the device is not left idle while it is enqueued.
        double lossValue = loss.item<float>();
        if (!double.IsFinite(lossValue))
        {
            _replica.DiscardGradients();
            throw new InvalidOperationException($"Training diverged at step {_step + 1}: the loss is {lossValue}. Lower the learning rate or raise the warm-up.");
        }
        timer?.Mark("backward");

        _replica.MoveGradientsToMaster();
        double gradientNorm = _optimizer.ClipGradientNorm(_options.GradientClip);
        _optimizer.Step(learningRate);
        _masterBuffer.ZeroGradients();
        timer?.Mark("optimizer");

        _average.Update(_masterBuffer, _step);
        timer?.Mark("average");
        _step++;
        return new TrainingStepResult(_step, lossValue, learningRate, gradientNorm);
    }

    /// <summary>The held-out loss of the weights and of their average (see <see cref="HeldOutEvaluation"/>).</summary>
    public (HeldOutLoss Weights, HeldOutLoss Average) EvaluateHeldOut()
    {
        _evaluator.CopyFrom(_master);
        var weights = _heldOut.Evaluate(_evaluator);
        _evaluator.CopyFrom(_average.Model);
        return (weights, _heldOut.Evaluate(_evaluator));
    }

    /// <summary>
    /// Trains until the run is finished or a limit is reached, evaluating and checkpointing on the options'
    /// intervals, and writes a checkpoint before returning (when there is a run folder). A time limit stops
    /// before a step that would not leave time for the final evaluation and checkpoint.
    /// </summary>
    /// <param name="maxDuration">Wall time this call may take, or null.</param>
    /// <param name="maxSteps">Steps this call may take, or null.</param>
    /// <param name="observe">Receives every step's result and every evaluation.</param>
    public void Run(TimeSpan? maxDuration, int? maxSteps, Action<TrainingEvent>? observe = null)
    {
        var clock = Stopwatch.StartNew();
        double startSeconds = _trainingSeconds;
        double Now() => startSeconds + clock.Elapsed.TotalSeconds;
        if (_step == 0) Evaluate(observe);
        var stepSeconds = new List<double>();
        int taken = 0;
        bool checkpointed = false;
        while (!Finished)
        {
            if (maxSteps is { } limit && taken >= limit) break;
            if (maxDuration is { } duration && stepSeconds.Count > 0)
            {
                double expected = stepSeconds.TakeLast(10).Average();
                if (clock.Elapsed.TotalSeconds + expected + _evalSeconds + StopReserveSeconds > duration.TotalSeconds) break;
            }
            double before = clock.Elapsed.TotalSeconds;
            var result = TrainStep();
            stepSeconds.Add(clock.Elapsed.TotalSeconds - before);
            taken++;
            checkpointed = false;
            _trainingSeconds = Now();
            _log?.AppendStep(result, _trainingSeconds);
            observe?.Invoke(new TrainingEvent(result, null));
            if (_totalSteps is null && _step == TrainingOptions.CalibrationSteps) FixStepCount(stepSeconds);
            if (_step % _options.EvalEvery == 0 || Finished) Evaluate(observe);
            if (_step % _options.CheckpointEvery == 0)
            {
                _trainingSeconds = Now();
                SaveCheckpoint();
                checkpointed = true;
            }
        }
        _trainingSeconds = Now();
        if (!checkpointed) SaveCheckpoint();
    }

    // Steps that fit the budget: what is left of it over the measured step time plus the evaluations' share.
    void FixStepCount(List<double> stepSeconds)
    {
        var timed = stepSeconds.Skip(Math.Min(CalibrationWarmupSteps, stepSeconds.Count - 1)).ToList();
        double perStep = timed.Average() + _evalSeconds / _options.EvalEvery;
        double left = _options.BudgetMinutes!.Value * 60 - _trainingSeconds - _evalSeconds - StopReserveSeconds;
        _totalSteps = _step + Math.Max(1, (int)Math.Floor(left / perStep));
    }

    void Evaluate(Action<TrainingEvent>? observe)
    {
        var clock = Stopwatch.StartNew();
        var (weights, average) = EvaluateHeldOut();
        _evalSeconds = clock.Elapsed.TotalSeconds;
        _log?.AppendHeldOut(_step, "raw", weights);
        _log?.AppendHeldOut(_step, "ema", average);
        observe?.Invoke(new TrainingEvent(null, new HeldOutEvent(_step, weights, average)));
    }

    /// <summary>Writes the run's checkpoint (a no-op without a run folder).</summary>
    public void SaveCheckpoint()
    {
        if (_folder is null) return;
        TrainingCheckpoint.Write(Path.Combine(_folder, TrainingCheckpoint.FileName), Header(), _master, _masterBuffer, _average.Model, _optimizer, _host);
    }

    TrainingCheckpointHeader Header() =>
        new(_options, Config, _master.Codec.Normalisation, _dataset, _step, _totalSteps, _trainingSeconds, _evalSeconds);

    /// <summary>
    /// Writes the averaged weights in bf16 as <see cref="ModelFileName"/> in <paramref name="folder"/> (see
    /// <see cref="SmallVideoModelFile"/>; the metadata entry "training" holds the run's header), with copies of
    /// the run's logs; returns the model file's path.
    /// </summary>
    public string Export(string folder)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, ModelFileName);
        SmallVideoModelFile.Write(_average.Model, path, ScalarType.BFloat16, new Dictionary<string, string>
        {
            ["training"] = JsonSerializer.Serialize(Header(), TrainingJson.Default.TrainingCheckpointHeader),
        });
        if (_folder is not null && Path.GetFullPath(_folder) != Path.GetFullPath(folder))
            foreach (var log in new[] { TrainingLog.StepFileName, TrainingLog.HeldOutFileName })
                File.Copy(Path.Combine(_folder, log), Path.Combine(folder, log), overwrite: true);
        return path;
    }


    /// <inheritdoc/>
    public void Dispose()
    {
        _data.Dispose();
        _heldOut.Dispose();
        _optimizer.Dispose();
        _replica.Dispose();
        _evaluator.Dispose();
        _average.Model.Dispose();
        _average.Dispose();
        _master.Dispose();
        _masterBuffer.Dispose();
        _host.Dispose();
        _noise.Dispose();
    }
}

/// <summary>Something that happened in <see cref="SmallVideoTrainer.Run"/>: a step or an evaluation.</summary>
/// <param name="Step">A step's result, or null.</param>
/// <param name="HeldOut">An evaluation's result, or null.</param>
public sealed record TrainingEvent(TrainingStepResult? Step, HeldOutEvent? HeldOut);

/// <summary>A held-out evaluation during training.</summary>
/// <param name="Step">Steps done when it ran.</param>
/// <param name="Weights">The loss of the trained weights.</param>
/// <param name="Average">The loss of their moving average.</param>
public sealed record HeldOutEvent(int Step, HeldOutLoss Weights, HeldOutLoss Average);
