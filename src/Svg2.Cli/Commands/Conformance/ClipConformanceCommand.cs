using System.CommandLine;
using System.Diagnostics;
using Svg2.IO;
using Svg2.Models.Checkpoints;
using Svg2.Models.Clip;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands.Conformance;

/// <summary>
/// <c>svg2 conformance clip</c>: loads the CLIP vision tower of Wan 2.1 image to video from a safetensors file
/// (official names under visual., the size from the shapes; or transformers' CLIPVisionModel names with their
/// config.json), runs Wan's preprocessing and the tower on the "image" of a reference driver's inputs file
/// (tools/reference/clip_conformance.py) and writes "pixels" [1, 3, 224, 224] and "features" [1, 257, 1280],
/// float32.
/// </summary>
public static class ClipConformanceCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = "safetensors file with the vision tower (official visual.* names, or transformers' vision_model.* names with --config).", Required = true };
        var config = new Option<string?>("--config") { Description = "transformers CLIPVisionConfig file (config.json); without it the size comes from the shapes, with ViT-H/14's head width 80." };
        var inputs = new Option<string>("--inputs") { Description = "safetensors file with 'image' [3, H, W] in [-1, 1].", Required = true };
        var output = new Option<string>("--out") { Description = "safetensors file to write 'pixels' and 'features' to (float32).", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Weights and activations: fp32 or bf16.", DefaultValueFactory = _ => "fp32" };
        dtype.AcceptOnlyFromAmong("fp32", "bf16");
        var device = new Option<string?>("--device") { Description = "cuda or cpu (default: cuda when available)." };
        device.AcceptOnlyFromAmong("cuda", "cpu");

        var command = new Command("clip", "Encode the image of an inputs file with the CLIP vision tower of Wan 2.1 image to video and write the pixels and features.");
        foreach (var option in new Option[] { weights, config, inputs, output, dtype, device }) command.Options.Add(option);
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var target = new Device(parse.GetValue(device) ?? (cuda.is_available() ? "cuda" : "cpu"));
            if (target.type == DeviceType.CUDA)
            {
                if (!cuda.is_available()) throw new NotSupportedException("CUDA is not available: build with -p:LibTorch=external and put a CUDA libtorch on LD_LIBRARY_PATH.");
                // The patch convolution in strict float32, as the reference runs with TF32 off.
                backends.cudnn.allow_tf32 = false;
            }
            var type = parse.GetValue(dtype) == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
            var shape = parse.GetValue(config) is { } path ? ClipCheckpoint.ReadTransformersConfig(path) : null;
            Run(parse.GetValue(weights)!, shape, parse.GetValue(inputs)!, parse.GetValue(output)!, type, target);
            return 0;
        }));
        return command;
    }

    static void Run(string weightsPath, ClipVisionConfig? config, string inputsPath, string outputPath, ScalarType dtype, Device device)
    {
        using var source = SafeTensorsSource.Open(weightsPath);
        var names = ClipCheckpoint.DetectNames(source);
        using var encoder = ClipCheckpoint.Load(source, config, device, dtype);
        using var file = SafeTensorsFile.Open(inputsPath);
        if (!file.Contains("image")) throw new ArgumentException($"Inputs {inputsPath} hold no tensor 'image'.");
        using var scope = NewDisposeScope();
        var image = file.Read("image");
        if (image.dim() != 3 || image.shape[0] != 3 || !image.is_floating_point())
            throw new ArgumentException($"Inputs {inputsPath}: 'image' is {image.dtype} [{string.Join(", ", image.shape)}]; expected [3, H, W] of a floating type.");

        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
        var clock = Stopwatch.StartNew();
        var pixels = ClipImagePreprocessing.Apply(image.unsqueeze(0), encoder.Config.ImageSize, device);
        var features = encoder.Forward(pixels);
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
        double seconds = clock.Elapsed.TotalSeconds;

        SafeTensorsWriter.Write(outputPath, [new("pixels", pixels.to(ScalarType.Float32, CPU).contiguous()), new("features", features.to(ScalarType.Float32, CPU).contiguous())]);
        var shape = encoder.Config;
        Console.WriteLine($"Wrote pixels and features [{string.Join(", ", features.shape)}] to {outputPath}: CLIP vision tower, {shape.FeatureLayers} of {shape.Layers} blocks, " +
            $"width {shape.Dim}, {shape.Heads} heads, {shape.ImageSize}-pixel input, {names.ToString().ToLowerInvariant()} names, {dtype} on {device}, {seconds:F2} s.");
    }
}
