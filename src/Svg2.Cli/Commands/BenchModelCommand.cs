using System.CommandLine;
using System.Globalization;
using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Cli.Rendering;
using Svg2.Configuration;
using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using Svg2.Evaluation.Benchmarks;
using Svg2.IO;
using Svg2.Models.Attention;
using Svg2.Models.Kernels;
using Svg2.Models.Profiling;
using Svg2.Models.Wan;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>
/// <c>svg2 bench-model</c>: times Wan 2.1 transformer forwards with random weights, dense SDPA against
/// SVG2 (no warm-up), on a reduced number of full-width layers, splits each forward into op classes,
/// and projects the full model and the reference sampling schedule. With the hidden
/// --weights/--inputs/--out options it instead runs one dense forward from files and writes every
/// block's output (for conformance checks, in reference numerics unless --numerics says otherwise).
/// </summary>
public static class BenchModelCommand
{
    // The reference schedule the projection assumes: Wan 2.1 T2V 720p with SVG2's published setting.
    const int ReferenceSteps = 50;
    const int ReferenceDenseSteps = 10;
    const int GuidancePasses = 2;
    const int StandaloneIterations = 5;
    const int KernelIterations = 20;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Wan variant: 1.3b, 14b, i2v-14b (tiny: a small configuration for smoke tests).", DefaultValueFactory = _ => "1.3b" };
        model.AcceptOnlyFromAmong("1.3b", "14b", "i2v-14b", "tiny");
        var shape = new Option<string>("--shape") { Description = "Video size: 480p (832x480, 81 frames), 720p (1280x720, 81 frames) or tiny.", DefaultValueFactory = _ => "480p" };
        shape.AcceptOnlyFromAmong("480p", "720p", "tiny");
        var layers = new Option<int>("--layers") { Description = "Blocks to build and time; the full depth is extrapolated per layer.", DefaultValueFactory = _ => 2 };
        var steps = new Option<int>("--steps") { Description = "Forwards timed per method, at least 2 (the first, k-means from scratch, is reported apart).", DefaultValueFactory = _ => 4 };
        var topP = new Option<double>("--top-p") { Description = "SVG2 top-p (the attention mass each query cluster keeps); ignored with --density.", DefaultValueFactory = _ => 0.9 };
        var density = new Option<double?>("--density") { Description = "Aim SVG2 at this density: each layer's first sparse call searches the top-p that reaches it, and later calls keep that top-p (the density reached is reported)." };
        var queryClusters = new Option<int?>("--query-clusters") { Description = "SVG2 query clusters per head (default: the reference's for the shape, 200 at 480p and 300 at 720p)." };
        var keyClusters = new Option<int?>("--key-clusters") { Description = "SVG2 key clusters per head (default: the reference's, 1000)." };
        var dtype = new Option<string>("--dtype") { Description = "Weight dtype: bf16 or fp32.", DefaultValueFactory = _ => "bf16" };
        dtype.AcceptOnlyFromAmong("bf16", "fp32");
        var numerics = new Option<string?>("--numerics") { Description = "reference (the public code under autocast: float32 residual stream) or fast (residual stream in the weights' dtype, fused kernels). Default: fast; reference for conformance runs." };
        numerics.AcceptOnlyFromAmong("reference", "fast");
        var device = new Option<string?>("--device") { Description = "cuda or cpu (default: cuda when available)." };
        var report = new Option<string?>("--report") { Description = "Append the results as markdown to this file." };
        var weights = new Option<string?>("--weights") { Description = "Conformance: checkpoint to load (file or folder).", Hidden = true };
        var inputs = new Option<string?>("--inputs") { Description = "Conformance: safetensors with latents, timesteps, context (and clip_fea, y).", Hidden = true };
        var output = new Option<string?>("--out") { Description = "Conformance: safetensors to write block.{i} and output to.", Hidden = true };

        var precision = new PrecisionOption();
        var command = new Command("bench-model", "Time Wan 2.1 transformer steps with dense attention and with SVG2, split them into op classes, and project the full model and sampling schedule.");
        foreach (var option in (Option[])[model, shape, layers, steps, topP, density, queryClusters, keyClusters, dtype, numerics, device, report, weights, inputs, output, .. precision.Options])
            command.Options.Add(option);

        command.SetAction(parse => CommandErrors.Run(() =>
        {
            int layerCount = parse.GetValue(layers), stepCount = parse.GetValue(steps);
            if (layerCount < 1) throw new ArgumentException($"--layers must be at least 1; got {layerCount}.");
            var config = WanConfig.Named(parse.GetValue(model)!) with { Layers = layerCount };
            var scalarType = parse.GetValue(dtype) == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
            var target = new Device(parse.GetValue(device) ?? (cuda.is_available() ? "cuda" : "cpu"));
            var numericsName = parse.GetValue(numerics);
            if (parse.GetValue(weights) is { } weightPath)
            {
                CommandErrors.RejectUnused(parse, [shape, steps, topP, density, queryClusters, keyClusters, report, .. precision.Options],
                    "with --weights, bench-model runs one dense forward of the given inputs");
                RunConformance(config, scalarType, target, numericsName == "fast" ? WanNumerics.Fast : WanNumerics.Reference, weightPath,
                    parse.GetValue(inputs) ?? throw new ArgumentException("--weights needs --inputs."),
                    parse.GetValue(output) ?? throw new ArgumentException("--weights needs --out."));
                return 0;
            }
            if (parse.GetValue(density) is not null) CommandErrors.RejectUnused(parse, [topP], "--density searches each layer's top-p");
            CommandErrors.RejectUnused(parse, [inputs, output], "without --weights, bench-model times random weights and inputs");
            precision.RequireDevice(parse, target);
            if (precision.IsFp8(parse)) Fp8Tiles.RequireHeadDim(config.HeadDim);
            if (stepCount < 2) throw new ArgumentException($"--steps must be at least 2 (the first forward is timed apart); got {stepCount}.");
            var defaults = GeometryFor(parse.GetValue(shape)!) is { } geometry
                ? new Svg2Options { QueryClusters = geometry.QueryClusters, KeyClusters = geometry.KeyClusters }
                : new Svg2Options();
            var options = precision.ApplyTo(parse, defaults) with
            {
                TopP = parse.GetValue(topP),
                QueryClusters = parse.GetValue(queryClusters) ?? defaults.QueryClusters,
                KeyClusters = parse.GetValue(keyClusters) ?? defaults.KeyClusters,
            };
            if (parse.GetValue(density) is { } aim)
                options = options with { TargetDensity = aim, MinKeyClusterRatio = TargetDensityFloor.MinimumRatio(options.MinKeyClusterRatio, aim) };
            options.Validate();
            var run = new ModelRun(parse.GetValue(model)!, parse.GetValue(shape)!, config, scalarType, target,
                numericsName == "reference" ? WanNumerics.Reference : WanNumerics.Fast, stepCount, options);
            var text = RunBenchmark(run);
            Console.Write(text);
            if (parse.GetValue(report) is { } reportPath) File.AppendAllText(reportPath, text);
            return 0;
        }));
        return command;
    }

    sealed record ModelRun(string ModelName, string Shape, WanConfig Config, ScalarType Dtype, Device Device, WanNumerics Numerics, int Steps, Svg2Options Options);

    /// <summary>
    /// The Wan geometry whose token grid and cluster counts a <c>--shape</c> stands for (the grid is the
    /// same for every Wan variant at a resolution); null for the smoke-test size.
    /// </summary>
    internal static ModelGeometry? GeometryFor(string shape) => shape switch
    {
        "480p" => ModelGeometries.Wan1_3B480p,
        "720p" => ModelGeometries.Wan14B720p,
        _ => null,
    };

    /// <summary>The latent video the transformer takes for <paramref name="shape"/>: the geometry's tokens times the patch size.</summary>
    internal static (long Frames, long Height, long Width) LatentSize(string shape, WanConfig config) =>
        GeometryFor(shape) is { } geometry
            ? (geometry.LatentFrames * config.PatchSize.Frames, geometry.TokensHigh * config.PatchSize.Height, geometry.TokensWide * config.PatchSize.Width)
            : (2, 8, 8);

    static string RunBenchmark(ModelRun run)
    {
        var (config, device) = (run.Config, run.Device);
        int fullLayers = WanConfig.Named(run.ModelName).Layers;
        var (frames, height, width) = LatentSize(run.Shape, config);
        long memoryBefore = DeviceMemory.UsedBytes(device);

        manual_seed(1234);
        using var wan = new WanModel(config, device, run.Dtype) { Numerics = run.Numerics };
        // Inputs are drawn on the CPU (seeded the same on every device) and moved.
        var generator = new Generator(99);
        Tensor Normal(params long[] shape) => randn(shape, generator: generator).to(device);
        var inputs = new WanInputs(
            Normal(1, 16, frames, height, width),
            full(1, 900.0, device: device),
            Normal(1, config.TextLength, config.TextDim),
            config.ModelType == WanModelType.ImageToVideo ? Normal(1, 257, config.ImageDim) : null,
            config.ModelType == WanModelType.ImageToVideo ? Normal(1, config.InDim - 16, frames, height, width) : null);
        var grid = wan.GridFor(frames, height, width);

        // One untimed forward compiles kernels and loads libraries so that neither method pays for it.
        wan.Forward(inputs).Dispose();
        bool fp8 = run.Options.Precision == AttentionPrecision.Fp8;
        var dense = WanForwardBenchmark.Measure(fp8 ? "dense (FP8)" : "dense (SDPA)", wan, inputs, new DenseAttentionProcessor(run.Options.Precision, run.Options.Fp8), run.Steps);
        long memoryDense = DeviceMemory.UsedBytes(device);

        using var state = new Svg2ModelState(config.Layers);
        // The CUDA kernels take bf16/fp16 CUDA tensors; float32 weights or the CPU use the portable reference.
        // Without NVRTC the kernels cannot be compiled, so the reference runs and stderr says why.
        bool cudaKernels = device.type == DeviceType.CUDA && run.Dtype != ScalarType.Float32;
        if (cudaKernels && !CudaToolchain.IsAvailable(out var toolchainMissing))
        {
            Console.Error.WriteLine($"note: {toolchainMissing}; using the reference backend.");
            cudaKernels = false;
        }
        using var backend = cudaKernels ? new CudaBackend() : null;
        var attention = new Svg2Attention(run.Options, backend);
        // Compiling the kernels (NVRTC, once per process) must not land in the first forward, which the
        // projection scales by the layer count as the k-means initialisation of every layer.
        if (backend is not null && TensorChecks.IsSupportedHeadDim(config.HeadDim))
            KernelLibrary.For(CudaDevice.Get(Math.Max(0, (int)device.index)), run.Dtype, config.HeadDim);
        var svg2 = new Svg2AttentionProcessor(attention, state, DenseWarmupPolicy.None);
        var sparse = WanForwardBenchmark.Measure("SVG2", wan, inputs, svg2, run.Steps, svg2);
        long memorySparse = DeviceMemory.UsedBytes(device);

        (double Svg2Ms, double Svg2Density, double DenseMs)? standaloneMs = device.type == DeviceType.CUDA
            ? OperatorInModelComparison.StandaloneMs(wan, inputs, svg2, run.Steps, StandaloneIterations)
            : null;
        var kernels = device.type == DeviceType.CUDA && wan.BlockKernels is CudaWanBlockKernels
            ? TransformerKernelBenchmark.Measure(device, run.Dtype, config.Heads, config.HeadDim, grid.Tokens, KernelIterations)
            : null;
        var peaks = device.type == DeviceType.CUDA ? DevicePeaks.For(CudaDevice.Get(Math.Max(0, (int)device.index)).Name) : null;

        return new ModelBenchmarkReport(run.ModelName, run.Shape, (frames, height, width), grid.Tokens, config, fullLayers, run.Dtype, device, run.Numerics,
            wan.BlockKernels.Name, wan.BlockKernelsFallbackReason, run.Options, attention.Backend.Name, run.Steps,
            [(dense, Gib(memoryDense, memoryBefore)), (sparse, Gib(memorySparse, memoryBefore))], standaloneMs, kernels, peaks,
            new ReferenceSchedule(ReferenceSteps, ReferenceDenseSteps, GuidancePasses)).Render();
    }

    static string Gib(long used, long before) => used < 0 || before < 0 ? "n/a" : ((used - before) / (double)(1L << 30)).ToString("F2", CultureInfo.InvariantCulture);

    static void RunConformance(WanConfig config, ScalarType dtype, Device device, WanNumerics numerics, string weights, string inputsPath, string outputPath)
    {
        using var wan = new WanModel(config, device, dtype) { Numerics = numerics };
        WanCheckpoint.Load(wan, weights);
        using var file = SafeTensorsFile.Open(inputsPath);
        Tensor Read(string name)
        {
            var tensor = file.Read(name);
            AttentionInputs.RequireFinite(tensor, $"Tensor '{name}' in {inputsPath}");
            return tensor.to(device);
        }
        Tensor? Optional(string name) => file.Contains(name) ? Read(name) : null;
        var inputs = new WanInputs(Read("latents"), Read("timesteps"), Read("context"), Optional("clip_fea"), Optional("y"));
        var results = new List<KeyValuePair<string, Tensor>>();
        using var output = wan.Forward(inputs, blockOutput: (layer, x) =>
            results.Add(new($"block.{layer}", x.to(ScalarType.Float32, CPU).DetachFromDisposeScope())));
        results.Add(new("output", output.to(ScalarType.Float32, CPU)));
        SafeTensorsWriter.Write(outputPath, results);
        Console.WriteLine($"Wrote {results.Count} tensors to {outputPath} ({numerics.ToString().ToLowerInvariant()} numerics, {wan.BlockKernels.Name} block kernels).");
    }
}
