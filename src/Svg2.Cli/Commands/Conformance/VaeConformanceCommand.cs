using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Svg2.Attention;
using Svg2.IO;
using Svg2.Models.Checkpoints;
using Svg2.Models.Profiling;
using Svg2.Models.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands.Conformance;

/// <summary>
/// <c>svg2 conformance vae</c>: loads Wan VAE weights, decodes the "latents" and encodes the "video" of a
/// reference driver's inputs file (tools/reference/vae_conformance.py) and writes "decoded" and
/// "encoded", with each step's time and the device memory the CUDA driver reports; optionally times a
/// decode of random latents at another video size (for example 81 frames of 720p).
/// </summary>
public static class VaeConformanceCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = "VAE weights: a safetensors file or folder with the official (Wan2.1_VAE.pth) or diffusers (AutoencoderKLWan) names.", Required = true };
        var inputs = new Option<string?>("--inputs") { Description = "safetensors with 'latents' [B, 16, F', H', W'] and/or 'video' [B, 3, F, H, W] in [-1, 1]." };
        var output = new Option<string?>("--out") { Description = "safetensors to write 'decoded' and 'encoded' to (float32)." };
        var dtype = new Option<string>("--dtype") { Description = "Weights and activations: fp32 or bf16.", DefaultValueFactory = _ => "fp32" };
        dtype.AcceptOnlyFromAmong("fp32", "bf16");
        var device = new Option<string?>("--device") { Description = "cuda or cpu (default: cuda when available)." };
        device.AcceptOnlyFromAmong("cuda", "cpu");
        var baseDim = new Option<int>("--base-dim") { Description = "VAE base width (96 for Wan 2.1; smaller for quick checks).", DefaultValueFactory = _ => WanVaeConfig.Wan21.BaseDim };
        var tf32 = new Option<bool>("--tf32") { Description = "Let cuDNN run float32 convolutions in TF32, as PyTorch does by default (off: strict float32, as the conformance reference runs)." };
        var timeDecode = new Option<string?>("--time-decode") { Description = "Also decode random latents for a video of FxHxW frames and pixels (e.g. 81x720x1280) and report time and memory." };

        var command = new Command("vae", "Decode and encode a reference driver's inputs with the Wan VAE and write the outputs, with times and device memory.");
        foreach (var option in new Option[] { weights, inputs, output, dtype, device, baseDim, tf32, timeDecode })
            command.Options.Add(option);
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            string? inputPath = parse.GetValue(inputs), outputPath = parse.GetValue(output);
            var timing = parse.GetValue(timeDecode) is { } size ? ParseVideoSize(size) : ((long, long, long)?)null;
            if (inputPath is null && timing is null) throw new ArgumentException("Give --inputs (with --out), --time-decode, or both.");
            if ((inputPath is null) != (outputPath is null)) throw new ArgumentException("--inputs and --out go together.");
            var target = new Device(parse.GetValue(device) ?? (cuda.is_available() ? "cuda" : "cpu"));
            if (target.type != DeviceType.CUDA)
                CommandErrors.RejectUnused(parse, [tf32], "on the CPU convolutions run in float32 (--tf32 sets cuDNN's on CUDA)");
            if (target.type == DeviceType.CUDA)
            {
                if (!cuda.is_available()) throw new NotSupportedException("CUDA is not available: build with -p:LibTorch=external and put a CUDA libtorch on LD_LIBRARY_PATH.");
                backends.cudnn.allow_tf32 = parse.GetValue(tf32);
            }
            var scalarType = parse.GetValue(dtype) == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
            var config = WanVaeConfig.Wan21 with { BaseDim = parse.GetValue(baseDim) };
            Run(config, scalarType, target, parse.GetValue(weights)!, inputPath, outputPath, timing);
            return 0;
        }));
        return command;
    }

    static void Run(WanVaeConfig config, ScalarType dtype, Device device, string weightPath, string? inputPath, string? outputPath,
        (long Frames, long Height, long Width)? timing)
    {
        var rows = new List<string[]>();
        long start = DeviceMemory.UsedBytes(device);
        using var vae = new WanVae(config, device, dtype);
        using (var source = SafeTensorsSource.Open(weightPath, "diffusion_pytorch_model.safetensors"))
            vae.LoadWeights(source);
        rows.Add(["load weights", "", "", "", Gib(DeviceMemory.UsedBytes(device), start)]);

        if (inputPath is not null)
        {
            var results = new List<KeyValuePair<string, Tensor>>();
            using var file = SafeTensorsFile.Open(inputPath);
            if (!file.Contains("latents") && !file.Contains("video"))
                throw new ArgumentException($"{inputPath} holds neither 'latents' nor 'video'.");
            if (file.Contains("latents"))
            {
                using var latents = file.Read("latents");
                AttentionInputs.RequireFinite(latents, $"Tensor 'latents' in {inputPath}");
                var (decoded, seconds) = Timed(device, () => vae.Decode(latents));
                rows.Add(["decode", Shape(latents), Shape(decoded), Seconds(seconds), Gib(DeviceMemory.UsedBytes(device), start)]);
                results.Add(new("decoded", ToCpu(decoded)));
            }
            if (file.Contains("video"))
            {
                using var video = file.Read("video");
                AttentionInputs.RequireFinite(video, $"Tensor 'video' in {inputPath}");
                var (encoded, seconds) = Timed(device, () => vae.Encode(video));
                rows.Add(["encode", Shape(video), Shape(encoded), Seconds(seconds), Gib(DeviceMemory.UsedBytes(device), start)]);
                results.Add(new("encoded", ToCpu(encoded)));
            }
            SafeTensorsWriter.Write(outputPath!, results);
            foreach (var (_, tensor) in results) tensor.Dispose();
        }

        if (timing is var (frames, height, width))
        {
            var (latentFrames, latentHeight, latentWidth) = vae.LatentSizeFor(frames, height, width);
            using var generator = new Generator(2026);
            using var latents = randn([1, config.ZDim, latentFrames, latentHeight, latentWidth], generator: generator);
            var (decoded, seconds) = Timed(device, () => vae.Decode(latents));
            rows.Add([$"decode {frames}x{height}x{width}", Shape(latents), Shape(decoded), Seconds(seconds), Gib(DeviceMemory.UsedBytes(device), start)]);
            decoded.Dispose();
        }

        var table = new Table().AddColumn("step").AddColumn("input").AddColumn("output").AddColumn("seconds").AddColumn("device memory used (GiB)");
        foreach (var row in rows) table.AddRow(row.Select(Markup.Escape).ToArray());
        AnsiConsole.Write(table);
        Console.WriteLine($"Wan VAE {dtype} on {device}{(device.type == DeviceType.CUDA ? $", TF32 convolutions {(backends.cudnn.allow_tf32 ? "on" : "off")}" : "")}. " +
            "Device memory: what the CUDA driver reports used, less the figure before the weights; libtorch's caching allocator " +
            "keeps what it reserved, so each figure is the largest reservation up to that step.");
        if (outputPath is not null) Console.WriteLine($"Wrote {outputPath}.");
    }

    static (Tensor Result, double Seconds) Timed(Device device, Func<Tensor> step)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
        var clock = Stopwatch.StartNew();
        var result = step();
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
        return (result, clock.Elapsed.TotalSeconds);
    }

    static Tensor ToCpu(Tensor tensor)
    {
        using (tensor) return tensor.to(ScalarType.Float32, CPU);
    }

    static (long Frames, long Height, long Width) ParseVideoSize(string text)
    {
        var parts = text.Split('x');
        if (parts.Length == 3 && parts.All(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0))
            return (long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture));
        throw new ArgumentException($"--time-decode takes FRAMESxHEIGHTxWIDTH, e.g. 81x720x1280; got '{text}'.");
    }

    static string Shape(Tensor tensor) => "[" + string.Join(", ", tensor.shape) + "]";

    static string Seconds(double seconds) => seconds.ToString("F2", CultureInfo.InvariantCulture);

    static string Gib(long used, long before) =>
        used < 0 || before < 0 ? "n/a" : ((used - before) / (double)(1L << 30)).ToString("F2", CultureInfo.InvariantCulture);
}
