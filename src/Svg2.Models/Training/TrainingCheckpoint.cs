using System.Text.Json;
using Svg2.IO;
using Svg2.Models.Checkpoints;
using Svg2.Models.Small;
using TorchSharp.Modules;
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
    public static void Write(string path, TrainingCheckpointHeader header, SmallVideoModel master, SmallVideoModel ema, AdamW optimizer, Generator host)
    {
        using var scope = NewDisposeScope();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        var names = master.named_parameters().Select(p => p.name).ToList();
        tensors.AddRange(master.named_parameters().Select(p => new KeyValuePair<string, Tensor>("master." + p.name, p.parameter)));
        tensors.AddRange(ema.named_parameters().Select(p => new KeyValuePair<string, Tensor>("ema." + p.name, p.parameter)));
        var states = AdamStates(optimizer, names.Count);
        tensors.AddRange(names.Select((n, i) => new KeyValuePair<string, Tensor>("adam.exp_avg." + n, states[i].exp_avg)));
        tensors.AddRange(names.Select((n, i) => new KeyValuePair<string, Tensor>("adam.exp_avg_sq." + n, states[i].exp_avg_sq)));
        tensors.Add(new("adam.steps", tensor(states.Select(s => s.step).ToArray())));
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
    public static void Restore(string path, SmallVideoModel master, SmallVideoModel ema, AdamW optimizer, Generator host)
    {
        using var source = SafeTensorsSource.Open(path);
        ParameterLoader.Load(master, source, $"training checkpoint {path} (master weights)", n => "master." + n, allowUnused: true);
        ParameterLoader.Load(ema, source, $"training checkpoint {path} (moving average)", n => "ema." + n, allowUnused: true);
        var names = master.named_parameters().Select(p => p.name).ToList();
        var states = AdamStates(optimizer, names.Count);
        using var noGrad = no_grad();
        using var steps = Read(source, path, "adam.steps");
        var counts = steps.data<long>().ToArray();
        if (counts.Length != names.Count) throw new CheckpointException($"{path}: 'adam.steps' has {counts.Length} entries; the model has {names.Count} parameters.");
        for (int i = 0; i < names.Count; i++)
        {
            states[i].step = counts[i];
            using var average = Read(source, path, "adam.exp_avg." + names[i]);
            using var squares = Read(source, path, "adam.exp_avg_sq." + names[i]);
            if (!average.shape.SequenceEqual(states[i].exp_avg.shape) || !squares.shape.SequenceEqual(states[i].exp_avg_sq.shape))
                throw new CheckpointException($"{path}: the AdamW moments of '{names[i]}' do not have the parameter's shape.");
            states[i].exp_avg.copy_(average);
            states[i].exp_avg_sq.copy_(squares);
        }
        using var hostState = Read(source, path, "rng.host");
        host.set_state(hostState);
    }

    static Tensor Read(ITensorSource source, string path, string name) =>
        source.Contains(name) ? source.Read(name) : throw new CheckpointException($"{path}: the checkpoint lacks '{name}'.");

    // AdamW keeps one state per parameter, in parameter order, and state_dict hands out the live objects.
    static AdamW.State[] AdamStates(AdamW optimizer, int expected)
    {
        var states = optimizer.state_dict().State.Cast<AdamW.State>().ToArray();
        if (states.Length != expected) throw new InvalidOperationException($"The optimiser holds {states.Length} parameter states; the model has {expected} parameters.");
        return states;
    }
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
