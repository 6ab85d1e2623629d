using System.CommandLine;
using Svg2.IO;
using Svg2.Models.Checkpoints;
using Svg2.Models.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands.Conformance;

/// <summary>
/// <c>svg2 conformance umt5</c>: loads a umT5 encoder from a safetensors file (official or transformers
/// names; the size from the shapes, the maximum distance and eps of umT5-XXL), encodes the token ids and mask of an inputs file, and writes
/// "output" [B, L, dim] (the padded batch with its mask), "trimmed.{b}" (each prompt's own positions of
/// it, as Wan keeps them) and "unpadded.{b}" (each prompt encoded alone without padding), float32.
/// </summary>
public static class UMT5ConformanceCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = "safetensors file with the encoder's weights (official Wan or transformers UMT5EncoderModel names).", Required = true };
        var inputs = new Option<string>("--inputs") { Description = "safetensors file with 'ids' and 'mask', both [batch, length] integers; each mask row is ones, then zeros.", Required = true };
        var output = new Option<string>("--out") { Description = "safetensors file to write output, trimmed.{b} and unpadded.{b} to.", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Weight dtype: fp32 or bf16.", DefaultValueFactory = _ => "fp32" };
        dtype.AcceptOnlyFromAmong("fp32", "bf16");
        var device = new Option<string?>("--device") { Description = "cuda or cpu (default: cuda when available)." };
        device.AcceptOnlyFromAmong("cuda", "cpu");

        var command = new Command("umt5", "Encode the token ids of an inputs file with a umT5 encoder and write its outputs.");
        foreach (var option in new Option[] { weights, inputs, output, dtype, device }) command.Options.Add(option);
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var target = new Device(parse.GetValue(device) ?? (cuda.is_available() ? "cuda" : "cpu"));
            var type = parse.GetValue(dtype) == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
            Run(parse.GetValue(weights)!, parse.GetValue(inputs)!, parse.GetValue(output)!, type, target);
            return 0;
        }));
        return command;
    }

    static void Run(string weightsPath, string inputsPath, string outputPath, ScalarType dtype, Device device)
    {
        using var source = SafeTensorsSource.Open(weightsPath);
        var names = UMT5Checkpoint.DetectNames(source);
        using var encoder = UMT5Checkpoint.Load(source, device, dtype);
        using var file = SafeTensorsFile.Open(inputsPath);
        using var scope = NewDisposeScope();
        var (ids, mask, lengths) = ReadInputs(file, inputsPath);

        var padded = encoder.Forward(ids, mask);
        var results = new List<KeyValuePair<string, Tensor>> { new("output", padded.to(ScalarType.Float32, CPU)) };
        for (int b = 0; b < lengths.Length; b++)
        {
            results.Add(new($"trimmed.{b}", padded[b].narrow(0, 0, lengths[b]).to(ScalarType.Float32, CPU).contiguous()));
            var alone = encoder.Forward(ids[b].narrow(0, 0, lengths[b]).unsqueeze(0));
            results.Add(new($"unpadded.{b}", alone[0].to(ScalarType.Float32, CPU).contiguous()));
        }
        SafeTensorsWriter.Write(outputPath, results);
        var config = encoder.Config;
        Console.WriteLine($"Wrote {results.Count} tensors to {outputPath}: umT5 encoder with {config.Layers} layers, width {config.Dim}, " +
            $"{config.Heads} heads, {names.ToString().ToLowerInvariant()} names, {dtype} on {device}.");
    }

    // Called inside the caller's dispose scope, which frees what it reads and builds.
    static (Tensor Ids, Tensor Mask, long[] Lengths) ReadInputs(SafeTensorsFile file, string path)
    {
        foreach (var name in new[] { "ids", "mask" })
            if (!file.Contains(name)) throw new ArgumentException($"Inputs {path} hold no tensor '{name}'.");
        var ids = file.Read("ids");
        var mask = file.Read("mask");
        if (ids.dim() != 2 || !mask.shape.SequenceEqual(ids.shape))
            throw new ArgumentException($"Inputs {path}: 'ids' {Shape(ids)} and 'mask' {Shape(mask)} must both be [batch, length].");
        if (ids.is_floating_point() || mask.is_floating_point())
            throw new ArgumentException($"Inputs {path}: 'ids' ({ids.dtype}) and 'mask' ({mask.dtype}) must be integers.");
        var binary = mask.ne(0).to(ScalarType.Int64);
        var lengths = binary.sum(1).data<long>().ToArray();
        for (int b = 0; b < lengths.Length; b++)
        {
            var prefix = arange(ids.shape[1]).lt(lengths[b]).to(ScalarType.Int64);
            if (lengths[b] < 1 || !binary[b].eq(prefix).all().item<bool>())
                throw new ArgumentException($"Inputs {path}: mask row {b} is not a run of ones followed by zeros with at least one one.");
        }
        return (ids, mask, lengths);
    }

    static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}
