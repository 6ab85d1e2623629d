using System.Text.Json;
using Svg2.IO;
using Svg2.Models.Checkpoints;
using Svg2.Models.Small;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// Everything a run needs to continue exactly where it stopped, in one safetensors file: the float32
/// master weights ("master.*"), their moving average ("ema.*"), AdamW's moments ("adam.exp_avg.*",
/// "adam.exp_avg_sq.*") and step counts ("adam.steps"), the state of the batch generator ("rng.host"; the
/// noise needs none, see <see cref="StepNoise"/>), and the run's header (options, model, codec statistics, dataset, progress) as
/// JSON in the metadata entry "run". Written to a temporary file and renamed, so a stop mid-write keeps the
/// previous checkpoint.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>The checkpoint's file name in a run folder.</summary>
    public const string FileName = "checkpoint.safetensors";

    /// <summary>The "format" metadata value.</summary>
    public const string Format = "svg2-small-video-training/1";

    /// <summary>Writes a checkpoint.</summary>
    /// <param name="path">The file.</param>
    /// <param name="header">The run's options and progress.</param>
    /// <param name="master">The float32 master weights.</param>
    /// <param name="masterBuffer">Their buffer, which lays out the optimiser's moments.</param>
    /// <param name="ema">The moving average.</param>
    /// <param name="optimizer">The optimiser over <paramref name="masterBuffer"/>.</param>
    /// <param name="host">The batch generator.</param>
    public static void Write(string path, TrainingCheckpointHeader header, SmallVideoModel master, ParameterBuffer masterBuffer, SmallVideoModel ema,
        FlatAdamW optimizer, Generator host)
    {
        using var scope = NewDisposeScope();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        tensors.AddRange(master.named_parameters().Select(p => new KeyValuePair<string, Tensor>("master." + p.name, p.parameter)));
        tensors.AddRange(ema.named_parameters().Select(p => new KeyValuePair<string, Tensor>("ema." + p.name, p.parameter)));
        tensors.AddRange(masterBuffer.Split(optimizer.FirstMoment).Select(m => new KeyValuePair<string, Tensor>("adam.exp_avg." + m.Name, m.View)));
        tensors.AddRange(masterBuffer.Split(optimizer.SecondMoment).Select(m => new KeyValuePair<string, Tensor>("adam.exp_avg_sq." + m.Name, m.View)));
        // One count a parameter, as per-parameter optimisers keep them.
        tensors.Add(new("adam.steps", full(masterBuffer.Names.Count(), optimizer.Steps, ScalarType.Int64)));
        tensors.Add(new("rng.host", host.get_state()));
        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["run"] = JsonSerializer.Serialize(header, TrainingJson.Default.TrainingCheckpointHeader),
        };
        var temporary = path + ".partial";
        SafeTensorsWriter.Write(temporary, tensors, metadata);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a checkpoint's header.</summary>
    /// <exception cref="CheckpointException">The file is not a training checkpoint or its header is malformed.</exception>
    public static TrainingCheckpointHeader ReadHeader(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("format", out var format) || format != Format)
            throw new CheckpointException($"{path} is not a training checkpoint: its metadata 'format' is '{format ?? "(missing)"}', expected '{Format}'.");
        if (!file.Metadata.TryGetValue("run", out var json)) throw new CheckpointException($"{path}: the metadata lacks 'run'.");
        try
        {
            return JsonSerializer.Deserialize(json, TrainingJson.Default.TrainingCheckpointHeader)
                ?? throw new CheckpointException($"{path}: metadata 'run' is null.");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: metadata 'run' is not valid ({e.Message}).", e);
        }
    }

    /// <summary>Restores the weights, their average, the optimiser's state and the batch generator from a checkpoint.</summary>
    /// <exception cref="CheckpointException">A tensor is missing or does not fit.</exception>
    public static void Restore(string path, SmallVideoModel master, ParameterBuffer masterBuffer, SmallVideoModel ema, FlatAdamW optimizer, Generator host)
    {
        using var source = SafeTensorsSource.Open(path);
        ParameterLoader.Load(master, source, $"training checkpoint {path} (master weights)", n => "master." + n, allowUnused: true);
        ParameterLoader.Load(ema, source, $"training checkpoint {path} (moving average)", n => "ema." + n, allowUnused: true);
        using var noGrad = no_grad();
        using var steps = Read(source, path, "adam.steps");
        var counts = steps.data<long>().ToArray();
        int parameters = masterBuffer.Names.Count();
        if (counts.Length != parameters) throw new CheckpointException($"{path}: 'adam.steps' has {counts.Length} entries; the model has {parameters} parameters.");
        if (counts.Distinct().Count() != 1) throw new CheckpointException($"{path}: 'adam.steps' holds different counts ({string.Join(", ", counts.Distinct())}); one optimiser steps every parameter.");
        optimizer.Steps = counts[0];
        foreach (var (moments, prefix) in new[] { (optimizer.FirstMoment, "adam.exp_avg."), (optimizer.SecondMoment, "adam.exp_avg_sq.") })
            foreach (var (name, view) in masterBuffer.Split(moments))
            {
                using (view)
                using (var stored = Read(source, path, prefix + name))
                {
                    if (!stored.shape.SequenceEqual(view.shape))
                        throw new CheckpointException($"{path}: the AdamW moments of '{name}' do not have the parameter's shape.");
                    view.copy_(stored);
                }
            }
        using var hostState = Read(source, path, "rng.host");
        host.set_state(hostState);
    }

    static Tensor Read(ITensorSource source, string path, string name) =>
        source.Contains(name) ? source.Read(name) : throw new CheckpointException($"{path}: the checkpoint lacks '{name}'.");
}

/// <summary>A run's options, model and progress, as a checkpoint records them.</summary>
/// <param name="Options">The training options.</param>
/// <param name="Config">The model.</param>
/// <param name="Normalisation">The codec's channel statistics (measured on the training clips).</param>
/// <param name="Dataset">What the run trains on.</param>
/// <param name="Step">Optimiser steps done.</param>
/// <param name="TotalSteps">The run's step count, once fixed.</param>
/// <param name="TrainingSeconds">Seconds spent training (steps, evaluations, checkpoints) over every invocation.</param>
/// <param name="EvalSeconds">Seconds one held-out evaluation of both weight sets took.</param>
public sealed record TrainingCheckpointHeader(TrainingOptions Options, SmallVideoConfig Config, ChannelNormalisation Normalisation,
    DatasetFingerprint Dataset, int Step, int? TotalSteps, double TrainingSeconds, double EvalSeconds);
