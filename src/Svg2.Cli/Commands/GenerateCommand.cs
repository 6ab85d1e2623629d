using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Svg2.Cli.Rendering;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Models;
using Svg2.Models.Attention;
using Svg2.Models.Pipelines;
using Svg2.Models.Sampling;
using Svg2.Models.Schedulers;
using Svg2.Models.Text;
using Svg2.Models.Video;
using Svg2.Models.Wan;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>
/// <c>svg2 generate</c>: text to video with a Wan 2.1 checkpoint folder (official or diffusers layout) or
/// the built-in small model, or image to video (<c>--image</c>) with a Wan 2.1 I2V folder, with dense attention,
/// SVG2 or a baseline, writing an MP4 (or PNG frames), lossless frames on request, a timing table and a JSON report.
/// </summary>
/// <remarks>
/// Image to video sizes the video as Wan's generate.py does: <c>--size</c> (or the model's default) gives the
/// area, and the image gives the aspect ratio (<see cref="ImageToVideoSize"/>); without <c>--shift</c>, an area of
/// 832 x 480 samples with shift 3.
/// </remarks>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var modelDir = new Option<string?>("--model-dir") { Description = "Wan 2.1 checkpoint folder (the publisher's release or its diffusers layout); without it, the built-in small model trained on footage" };
        var prompt = new Option<string?>("--prompt") { Description = "the prompt (for the built-in model: a footage source name; see its help)" };
        var negative = new Option<string?>("--negative-prompt") { Description = "the negative prompt (default: the model's; Wan's default negative prompt for Wan)" };
        var image = new Option<string?>("--image") { Description = "image to video: the first frame, PNG, JPEG, WebP or BMP (needs a Wan 2.1 I2V checkpoint)" };
        var size = new Option<string?>("--size") { Description = "WIDTHxHEIGHT, e.g. 832x480 (default: the model's); with --image the area, the image giving the aspect ratio" };
        var frames = new Option<int?>("--frames") { Description = "frame count, 4n+1 for Wan (default: the model's, 81 for Wan)" };
        var steps = new Option<int?>("--steps") { Description = "denoising steps (default: the model's, 50 for Wan)" };
        var guidance = new Option<double?>("--guidance") { Description = "classifier-free guidance scale (default: the model's, 5.0 for Wan)" };
        var shift = new Option<double?>("--shift") { Description = "flow shift of the noise schedule (default: the model's, 5.0 for Wan)" };
        var seed = new Option<long>("--seed") { Description = "seed of the initial noise (the same video on every device)", DefaultValueFactory = _ => 0 };
        var solver = new Option<string>("--solver") { Description = "unipc (Wan's default) or euler", DefaultValueFactory = _ => "unipc" };
        solver.AcceptOnlyFromAmong("unipc", "euler");
        var guidanceMode = new Option<string>("--guidance-mode") { Description = "batched (both passes in one forward) or sequential", DefaultValueFactory = _ => "batched" };
        guidanceMode.AcceptOnlyFromAmong("batched", "sequential");
        var method = new Option<string>("--method") { Description = $"self-attention: {string.Join(", ", AttentionSetup.Methods)}", DefaultValueFactory = _ => "svg2" };
        var density = new Option<double?>("--density") { Description = "drive sparse attention to this density (SVG2: per-layer top-p search; required for blocks and window)" };
        var preset = new Option<string?>("--preset") { Description = $"SVG2 clusters and warm-up from a reference configuration: {string.Join(", ", Svg2Presets.All.Select(p => p.Name))}" };
        var topP = new Option<double?>("--top-p") { Description = "SVG2 top-p without --density (default 0.9; svg2-ear with --routing top-p too)" };
        var ear = new EarOptions();
        var warmupSteps = new Option<double?>("--dense-steps") { Description = "fraction of the steps that run dense attention first, for every sparse method (default 0.2, or the preset's)" };
        var warmupLayers = new Option<double?>("--dense-layers") { Description = "fraction of the layers that always run dense (default 0.03, or the preset's)" };
        var dtype = new Option<string?>("--dtype") { Description = "bf16 or f32 (default: bf16 on CUDA, f32 on the CPU)" };
        dtype.AcceptOnlyFromAmong("bf16", "f32");
        var device = new Option<string?>("--device") { Description = "cuda or cpu (default: cuda when available)" };
        device.AcceptOnlyFromAmong("cuda", "cpu");
        var textOnCpu = new Option<bool>("--t5-cpu") { Description = "run the text encoder on the CPU (Wan: keeps its 11 GB off the GPU; otherwise it is freed after encoding)" };
        var output = new Option<string>("--out") { Description = "the video file (.mp4; PNG frames in a folder of that name when ffmpeg is missing)", Required = true };
        var lossless = new Option<string?>("--lossless") { Description = "also write the frames as PNG to this folder (for quality comparisons: H.264 is lossy)" };
        var report = new Option<string?>("--report") { Description = "write the timings, densities and settings as JSON to this file" };
        var dumpQkv = new Option<string?>("--dump-qkv") { Description = "write q, k, v of --dump-layers at --dump-steps (conditional pass) to PREFIX-layerL-stepS.safetensors, for svg2 eval --qkv" };
        var dumpLayers = new Option<int[]>("--dump-layers") { Description = "layers whose q, k, v --dump-qkv writes", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [0] };
        var dumpSteps = new Option<int[]>("--dump-steps") { Description = "steps at which --dump-qkv writes", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [0] };
        var numerics = new Option<string>("--numerics") { Description = "the transformer's numerics: fast (bf16 residual stream, fused kernels) or reference (the public code's, for conformance checks)", DefaultValueFactory = _ => "fast" };
        numerics.AcceptOnlyFromAmong("fast", "reference");
        var textDtype = new Option<string>("--t5-dtype") { Description = "the umT5 text encoder's weight type: bf16 (as Wan runs it) or f32 (for comparisons with a float32 reference)", DefaultValueFactory = _ => "bf16" };
        textDtype.AcceptOnlyFromAmong("bf16", "f32");
        var vaeDtype = new Option<string?>("--vae-dtype") { Description = "the VAE's weight type, bf16 or f32 (default: --dtype's; Wan's own pipeline decodes in f32)" };
        vaeDtype.AcceptOnlyFromAmong("bf16", "f32");
        var noise = new Option<string?>("--noise") { Description = "start from this initial noise instead of --seed's: a safetensors file with a float tensor 'noise' [1, 16, F', H', W'] (or [16, F', H', W'])" };
        var saveTensors = new Option<string?>("--save-tensors") { Description = "write the initial noise, each step's latents, the final latents and the decoded video (float32) to this safetensors file" };
        var randomWeights = new Option<string?>("--random-weights") { Description = "instead of a checkpoint, Wan 2.1 T2V of this size (14B, 1.3B or tiny) with seeded random weights built on the device: measures memory and speed; the video is noise" };
        randomWeights.AcceptOnlyFromAmong("14B", "1.3B", "tiny", "14b", "1.3b");

        var precision = new PrecisionOption();
        var command = new Command("generate", "Generate a video from a prompt with a Wan 2.1 checkpoint or the built-in small model, with dense attention, SVG2 or a baseline.");
        foreach (Option option in (Option[])[modelDir, prompt, negative, image, size, frames, steps, guidance, shift, seed, solver, guidanceMode, method, density,
                     preset, topP, .. ear.All, warmupSteps, warmupLayers, dtype, device, textOnCpu, output, lossless, report, dumpQkv, dumpLayers, dumpSteps, numerics, textDtype, vaeDtype,
                     noise, saveTensors, randomWeights, .. precision.Options])
            command.Options.Add(option);

        command.SetAction(parse => CommandErrors.Run(() =>
        {
            if (parse.GetValue(randomWeights) is not null) CommandErrors.RejectUnused(parse, [modelDir], "--random-weights builds the model instead of reading one");
            string methodName = parse.GetValue(method)!.ToLowerInvariant();
            if (!AttentionSetup.Methods.Contains(methodName))
                throw new ArgumentException($"Unknown --method '{methodName}'. Known methods: {string.Join(", ", AttentionSetup.Methods)}.");
            MethodCatalog.RequirePrecisionSupport(methodName, precision.ApplyTo(parse, new Svg2Options()));
            if (parse.GetValue(modelDir) is null)
                CommandErrors.RejectUnused(parse, [textOnCpu], "the built-in small model has no T5 text encoder (its prompt names a footage source)");
            if (methodName == "dense")
                CommandErrors.RejectUnused(parse, [density, preset, topP, warmupSteps, warmupLayers], "--method dense runs full attention everywhere");
            else if (methodName is not (MethodCatalog.Svg2 or MethodCatalog.Svg2Ear))
                CommandErrors.RejectUnused(parse, [preset, topP], $"--method {methodName} is driven to --density");
            if (methodName != MethodCatalog.Svg2Ear)
                CommandErrors.RejectUnused(parse, ear.All, "only svg2-ear compensates skipped clusters and routes by error");
            else if (ear.RoutesByTopP(parse))
                CommandErrors.RejectUnused(parse, ear.ErrorRoutingOnly, "svg2-ear with --routing top-p selects by top-p");
            else
                CommandErrors.RejectUnused(parse, [topP], "svg2-ear routes by estimated error (--error-threshold, or --density); --top-p applies to svg2 or to --routing top-p");
            if (parse.GetValue(density) is not null) CommandErrors.RejectUnused(parse, [topP], "--density searches each layer's top-p");
            var outputPath = Path.GetFullPath(parse.GetValue(output)!);
            var outputFolder = Path.GetDirectoryName(outputPath)!;
            if (!Directory.Exists(outputFolder)) throw new DirectoryNotFoundException($"The output folder {outputFolder} does not exist.");

            var onDevice = new Device(parse.GetValue(device) ?? (cuda.is_available() ? "cuda" : "cpu"));
            if (onDevice.type == DeviceType.CUDA && !cuda.is_available())
                throw new NotSupportedException("CUDA is not available: this build ships the CPU libtorch, or no GPU and driver were found. " +
                    "Build with -p:LibTorch=external and put a CUDA libtorch (for example PyTorch's torch/lib) on LD_LIBRARY_PATH.");
            precision.RequireDevice(parse, onDevice);
            var weightType = (parse.GetValue(dtype) ?? (onDevice.type == DeviceType.CUDA ? "bf16" : "f32")) == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
            // --dtype f32 means float32 throughout: cuDNN would otherwise run the VAE's float32 convolutions in TF32.
            if (weightType == ScalarType.Float32 && onDevice.type == DeviceType.CUDA) backends.cudnn.allow_tf32 = false;
            ScalarType? vaeType = parse.GetValue(vaeDtype) switch { "bf16" => ScalarType.BFloat16, "f32" => ScalarType.Float32, _ => null };
            var modelOptions = new VideoModelOptions(onDevice, weightType, parse.GetValue(numerics) == "reference" ? WanNumerics.Reference : WanNumerics.Fast,
                parse.GetValue(textOnCpu), parse.GetValue(textDtype) == "f32" ? ScalarType.Float32 : ScalarType.BFloat16, vaeType);

            // Read before the model, so that an unreadable image costs no loading time.
            string? imagePath = parse.GetValue(image) is { } given ? Path.GetFullPath(given) : null;
            using var firstFrame = imagePath is null ? null : ImageFile.ReadSigned(imagePath);

            using var model = parse.GetValue(randomWeights) is { } randomSize
                ? VideoModels.LoadRandom(randomSize, modelOptions)
                : VideoModels.Load(parse.GetValue(modelDir), modelOptions);
            if (model.Image is null && firstFrame is not null)
                throw new ArgumentException($"--image needs an image-to-video checkpoint; {model.Name} is text to video.");
            if (model.Image is not null && firstFrame is null)
                throw new ArgumentException($"{model.Name} is image to video: give the first frame with --image.");
            var request = BuildRequest(parse, model.Defaults, prompt, negative, size, frames, steps, guidance, shift, seed, solver, guidanceMode);
            if (firstFrame is not null)
            {
                long area = (long)request.Width * request.Height;
                var (videoWidth, videoHeight) = ImageToVideoSize.For((int)firstFrame.shape[2], (int)firstFrame.shape[1], area,
                    model.Codec.SpatialCompression, model.Transformer.Config.PatchSize.Height);
                request = request with
                {
                    Image = firstFrame, Width = videoWidth, Height = videoHeight,
                    Shift = parse.GetValue(shift) ?? FlowShift.WanDefaultFor(imageToVideo: true, area, model.Defaults.Shift),
                };
                AnsiConsole.MarkupLineInterpolated($"Image to video: a {firstFrame.shape[2]}x{firstFrame.shape[1]} image at an area of {area:N0} pixels gives {videoWidth}x{videoHeight}.");
            }
            var pipeline = model.Pipeline();
            pipeline.Validate(request);
            if (model.Text is UMT5PromptEncoder umt5)
                foreach (var (name, text) in new[] { ("prompt", request.Prompt), ("negative prompt", request.NegativePrompt) })
                    if (umt5.Tokenize(text) is { Truncated: true } tokens)
                        AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] the {name} is longer than {umt5.Tokenizer.TextLength} tokens; its last {tokens.DroppedTokens} tokens are dropped, as Wan does.");

            var svg2Preset = parse.GetValue(preset) is { } presetName ? Svg2Presets.Get(presetName) : null;
            var options = precision.ApplyTo(parse, svg2Preset?.Options ?? new Svg2Options()) with { TopP = parse.GetValue(topP) ?? 0.9 };
            if (methodName == MethodCatalog.Svg2Ear) options = ear.ApplyTo(parse, options);
            double? target = parse.GetValue(density);
            if (target is { } aim && methodName is MethodCatalog.Svg2 or MethodCatalog.Svg2Ear)
                options = options with { TargetDensity = aim, MinKeyClusterRatio = TargetDensityFloor.MinimumRatio(options.MinKeyClusterRatio, aim) };
            var warmup = methodName == "dense" ? DenseWarmupPolicy.None
                : DenseWarmupPolicy.FromFractions(parse.GetValue(warmupSteps) ?? svg2Preset?.Warmup.DenseSteps / (double?)svg2Preset?.Steps ?? DefaultDenseSteps,
                    request.Steps, parse.GetValue(warmupLayers) ?? DefaultDenseLayers, model.Transformer.Config.Layers, svg2Preset?.Warmup.KMeansDuringWarmup ?? false);
            using var attention = AttentionSetup.Create(methodName, model.Transformer, options, warmup, target);
            if (parse.GetValue(dumpQkv) is null) CommandErrors.RejectUnused(parse, [dumpLayers, dumpSteps], "without --dump-qkv nothing is dumped");
            model.Transformer.SelfAttentionProcessor = parse.GetValue(dumpQkv) is { } prefix
                ? new QkvDumpProcessor(attention.Processor, Path.GetFullPath(prefix), parse.GetValue(dumpLayers)!.ToHashSet(), parse.GetValue(dumpSteps)!.ToHashSet())
                : attention.Processor;
            pipeline.DensityMeter = attention.Meter;
            using var startNoise = parse.GetValue(noise) is { } noisePath ? NoiseFile.Read(Path.GetFullPath(noisePath), pipeline.LatentShape(request)) : null;
            using var tensors = parse.GetValue(saveTensors) is null ? null : new GenerationTensors();
            if (tensors is not null)
            {
                var shape = pipeline.LatentShape(request);
                using var seeded = startNoise is null ? WanSampler.Noise(shape[1], shape[2], shape[3], shape[4], request.Seed, CPU) : null;
                tensors.Noise(startNoise ?? seeded!);
            }

            Tensor video = null!;
            GenerationReport generation = null!;
            AnsiConsole.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask($"{model.Name}, {methodName}", maxValue: request.Steps);
                    (video, generation) = pipeline.Generate(request, (done, _) => task.Value = done, startNoise, tensors is null ? null : tensors.Step);
                });
            using (video)
            {
                var written = VideoOutputs.Write(video, model.Fps, outputPath, parse.GetValue(lossless))
                    .Concat((model.Transformer.SelfAttentionProcessor as QkvDumpProcessor)?.Written ?? []).ToList();
                if (tensors is not null)
                {
                    var tensorsPath = Path.GetFullPath(parse.GetValue(saveTensors)!);
                    tensors.Write(tensorsPath, video);
                    written.Add(tensorsPath);
                }
                var run = new GenerationRun(model.Name, methodName, attention.Note, request.Prompt, request.NegativePrompt, request.Width, request.Height, request.Frames,
                    request.Steps, request.Guidance, request.Shift, request.Seed, request.Solver.ToString(), onDevice.ToString(), weightType.ToString(), target,
                    warmup.DenseSteps, warmup.DenseLayers, written, generation, DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture), imagePath);
                GenerationView.Render(run);
                if (parse.GetValue(report) is { } reportPath) GenerationView.WriteJson(reportPath, run);
            }
            return 0;
        }));
        return command;
    }

    // The reference's Wan 720p setting: the first 20% of the steps and 3% of the layers run dense.
    const double DefaultDenseSteps = 0.2;
    const double DefaultDenseLayers = 0.03;

    static VideoRequest BuildRequest(ParseResult parse, VideoRequest defaults, Option<string?> prompt, Option<string?> negative, Option<string?> size,
        Option<int?> frames, Option<int?> steps, Option<double?> guidance, Option<double?> shift, Option<long> seed, Option<string> solver, Option<string> guidanceMode)
    {
        var (width, height) = parse.GetValue(size) is { } text ? ParseSize(text) : (defaults.Width, defaults.Height);
        return defaults with
        {
            Prompt = parse.GetValue(prompt) ?? defaults.Prompt,
            NegativePrompt = parse.GetValue(negative) ?? defaults.NegativePrompt,
            Width = width,
            Height = height,
            Frames = parse.GetValue(frames) ?? defaults.Frames,
            Steps = parse.GetValue(steps) ?? defaults.Steps,
            Guidance = parse.GetValue(guidance) ?? defaults.Guidance,
            Shift = parse.GetValue(shift) ?? defaults.Shift,
            Seed = parse.GetValue(seed),
            Solver = parse.GetValue(solver) == "euler" ? SolverKind.Euler : SolverKind.UniPC,
            GuidanceMode = parse.GetValue(guidanceMode) == "sequential" ? GuidanceMode.Sequential : GuidanceMode.Batched,
        };
    }

    internal static (int Width, int Height) ParseSize(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int width)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int height) || width < 1 || height < 1)
            throw new ArgumentException($"--size must be WIDTHxHEIGHT with positive integers, e.g. 832x480; got '{text}'.");
        return (width, height);
    }
}
