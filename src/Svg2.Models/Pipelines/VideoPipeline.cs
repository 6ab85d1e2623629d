using System.Diagnostics;
using Svg2.Models.Attention;
using Svg2.Models.Profiling;
using Svg2.Models.Sampling;
using Svg2.Models.Wan;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>
/// Text (or image) to video: encode the prompt and the negative prompt, for image to video also the first
/// frame (its image tokens and its latent condition, <see cref="ImageToVideoCondition"/>), denoise seeded
/// noise with the transformer and classifier-free guidance, decode the latents to frames, and report the
/// time and memory of each stage and step. The transformer's attention processor (dense, SVG2 or a
/// baseline) is set on the model.
/// </summary>
/// <remarks>
/// Image to video guides as the public code does: both passes see the image tokens and the condition, and
/// only the text differs (the prompt or the negative prompt).
/// </remarks>
public sealed class VideoPipeline
{
    readonly WanModel _model;
    readonly IPromptEncoder _text;
    readonly IVideoLatentCodec _codec;
    readonly Action? _releaseText;
    readonly IImageEncoder? _image;
    readonly Action? _releaseImage;

    /// <summary>Creates the pipeline.</summary>
    /// <param name="model">The transformer, with its attention processor set.</param>
    /// <param name="text">The prompt encoder; its tokens must be as wide as the model's text width.</param>
    /// <param name="codec">Latents to frames (and back).</param>
    /// <param name="releaseText">Called once both prompts are encoded, to free the encoder's device memory before denoising.</param>
    /// <param name="image">Image to video: the image encoder (required for an image-to-video model, refused otherwise).</param>
    /// <param name="releaseImage">Called once the first frame is encoded, to free the image encoder's device memory.</param>
    /// <exception cref="ArgumentException">The encoders' or codec's widths do not fit the model, or the image encoder is missing or not wanted.</exception>
    public VideoPipeline(WanModel model, IPromptEncoder text, IVideoLatentCodec codec, Action? releaseText = null,
        IImageEncoder? image = null, Action? releaseImage = null)
    {
        if (text.ContextDim != model.Config.TextDim)
            throw new ArgumentException($"The prompt encoder gives {text.ContextDim}-wide tokens; the model takes {model.Config.TextDim}.");
        bool imageToVideo = model.Config.ModelType == WanModelType.ImageToVideo;
        // Image to video concatenates the condition (the mask, one channel per frame of a latent frame, and the
        // first frame's latents) to the noise.
        int inputChannels = imageToVideo ? 2 * codec.LatentChannels + codec.TemporalCompression : codec.LatentChannels;
        if (model.Config.InDim != inputChannels || codec.LatentChannels != model.Config.OutDim)
            throw new ArgumentException($"The codec has {codec.LatentChannels} latent channels, making {inputChannels} input channels" +
                (imageToVideo ? $" with the image condition ({codec.TemporalCompression} mask and {codec.LatentChannels} latent)" : "") +
                $"; the model takes {model.Config.InDim} and predicts {model.Config.OutDim}.");
        if (imageToVideo)
        {
            if (image is null) throw new ArgumentException("An image-to-video model needs an image encoder.");
            if (image.FeatureDim != model.Config.ImageDim)
                throw new ArgumentException($"The image encoder gives {image.FeatureDim}-wide tokens; the model takes {model.Config.ImageDim}.");
        }
        else if (image is not null) throw new ArgumentException("A text-to-video model takes no image encoder.");
        (_model, _text, _codec, _releaseText, _image, _releaseImage) = (model, text, codec, releaseText, image, releaseImage);
    }

    /// <summary>True for an image-to-video model: requests need <see cref="VideoRequest.Image"/>.</summary>
    public bool TakesImage => _image is not null;

    /// <summary>Receives the attention densities of the model's processor, when set (see <see cref="AttentionDensityMeter.Observe"/>).</summary>
    public AttentionDensityMeter? DensityMeter { get; set; }

    /// <summary>Pixels per token side: the codec's compression times the patch size.</summary>
    public (int Height, int Width) PixelsPerToken => (_codec.SpatialCompression * _model.Config.PatchSize.Height, _codec.SpatialCompression * _model.Config.PatchSize.Width);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first request value this pipeline cannot generate.</summary>
    public void Validate(VideoRequest request)
    {
        var (perHeight, perWidth) = PixelsPerToken;
        if (request.Width < perWidth || request.Width % perWidth != 0 || request.Height < perHeight || request.Height % perHeight != 0)
            throw new ArgumentException($"Size {request.Width}x{request.Height} must be a positive multiple of {perWidth}x{perHeight} (codec compression x patch size).");
        int temporal = _codec.TemporalCompression;
        if (request.Frames < 1 || (request.Frames - 1) % temporal != 0)
            throw new ArgumentException(temporal == 1
                ? $"Frame count must be at least 1; got {request.Frames}."
                : $"Frame count must be {temporal}n+1 (1, {temporal + 1}, {2 * temporal + 1}, ..., 81); got {request.Frames}.");
        if (TakesImage && request.Image is null) throw new ArgumentException("This is an image-to-video model: give the first frame (an image).");
        if (!TakesImage && request.Image is not null) throw new ArgumentException("This is a text-to-video model: it takes no image (image to video needs an I2V checkpoint).");
        if (request.Image is { } image && (image.dim() != 3 || image.shape[0] != 3 || image.shape[1] < 1 || image.shape[2] < 1 || !image.is_floating_point()))
            throw new ArgumentException($"The first frame must be an image [3, H, W] of a floating type; got {image.dtype} [{string.Join(", ", image.shape)}].");
        if (request.Steps < 1) throw new ArgumentException($"Step count must be at least 1; got {request.Steps}.");
        if (!(request.Guidance >= 0) || double.IsInfinity(request.Guidance)) throw new ArgumentException($"Guidance scale must be a finite number >= 0; got {request.Guidance}.");
        if (!(request.Shift > 0) || double.IsInfinity(request.Shift)) throw new ArgumentException($"Flow shift must be a finite positive number; got {request.Shift}.");
    }

    /// <summary>The shape [1, C, F', H', W'] of a request's latents (and of its initial noise).</summary>
    public long[] LatentShape(VideoRequest request) =>
        [1, _codec.LatentChannels, (request.Frames - 1) / _codec.TemporalCompression + 1,
         request.Height / _codec.SpatialCompression, request.Width / _codec.SpatialCompression];

    /// <summary>Generates one video.</summary>
    /// <param name="request">What to generate.</param>
    /// <param name="stepDone">Called after every step with the count done and the total.</param>
    /// <param name="initialNoise">Initial latents of <see cref="LatentShape"/> to start from instead of the request's
    /// seeded draw (for instance another implementation's noise, to compare the two from the same start).</param>
    /// <param name="stepLatents">Called after every step with its index and the new latents (float32, on the device;
    /// valid during the call only).</param>
    /// <returns>The video [1, 3, F, H, W] float32 in [-1, 1] on the CPU, and the report.</returns>
    /// <exception cref="ArgumentException">The request cannot be generated (see <see cref="Validate"/>), or the noise's shape is not <see cref="LatentShape"/>.</exception>
    public (Tensor Video, GenerationReport Report) Generate(VideoRequest request, Action<int, int>? stepDone = null, Tensor? initialNoise = null,
        Action<int, Tensor>? stepLatents = null)
    {
        Validate(request);
        var shape = LatentShape(request);
        if (initialNoise is not null && !initialNoise.shape.SequenceEqual(shape))
            throw new ArgumentException($"The initial noise has shape [{string.Join(", ", initialNoise.shape)}]; " +
                $"a {request.Width}x{request.Height} video of {request.Frames} frames needs latents [{string.Join(", ", shape)}].");
        if (initialNoise is not null && !initialNoise.is_floating_point())
            throw new ArgumentException($"The initial noise is {initialNoise.dtype}; it must be floating-point.");
        var device = _model.Device;
        var stages = new List<StageReport>();
        var stageWatch = Stopwatch.StartNew();
        long stagePeak = -1;
        void Sample() => stagePeak = Math.Max(stagePeak, DeviceMemory.UsedBytes(device));
        void EndStage(string name)
        {
            if (device.type == DeviceType.CUDA) cuda.synchronize(device);
            Sample();
            stages.Add(new StageReport(name, stageWatch.Elapsed.TotalMilliseconds, stagePeak < 0 ? null : stagePeak));
            stagePeak = -1;
            stageWatch.Restart();
        }

        using var conditional = _text.Encode(request.Prompt);
        using var unconditional = _text.Encode(request.NegativePrompt);
        Sample();
        _releaseText?.Invoke();
        EndStage("text encoding");

        using var clip = request.Image is { } image ? _image!.Encode(image) : null;
        if (clip is not null)
        {
            Sample();
            _releaseImage?.Invoke();
        }
        using var condition = request.Image is { } firstFrame
            ? ImageToVideoCondition.Build(_codec, firstFrame, request.Frames, request.Height, request.Width)
            : null;
        if (condition is not null) EndStage("image encoding");

        long latentFrames = (request.Frames - 1) / _codec.TemporalCompression + 1;
        long latentHeight = request.Height / _codec.SpatialCompression, latentWidth = request.Width / _codec.SpatialCompression;
        using var noise = WanSampler.Noise(_codec.LatentChannels, latentFrames, latentHeight, latentWidth, request.Seed, device);
        if (initialNoise is not null) noise.copy_(initialNoise);
        var grid = _model.GridFor(latentFrames, latentHeight, latentWidth);
        var steps = new List<StepReport>();
        using var timeline = new DeviceTimeline(device);
        var profiler = new OpClassProfiler(timeline);
        var previousProfiler = _model.Profiler;
        _model.Profiler = profiler;
        var sampler = new WanSampler(_model)
        {
            StepStarting = _ => profiler.Begin(),
            StepCompleted = (step, x) =>
            {
                var profile = profiler.End();
                var density = DensityMeter?.Take();
                long used = DeviceMemory.UsedBytes(device);
                stagePeak = Math.Max(stagePeak, used);
                steps.Add(new StepReport(step, profile.TotalMs, profile.ClassMs[WanOpClass.SelfAttention], density?.Sparse, density?.Overall, used < 0 ? null : used));
                stepLatents?.Invoke(step, x);
                stepDone?.Invoke(step + 1, request.Steps);
            },
        };
        Tensor latents;
        try
        {
            latents = sampler.Sample(noise, conditional, unconditional, request.CreateScheduler(), request.Guidance, request.GuidanceMode, clip, condition);
        }
        finally
        {
            _model.Profiler = previousProfiler;
        }
        EndStage("denoising");

        Tensor video;
        using (latents)
        using (var scope = NewDisposeScope())
            video = _codec.Decode(latents).to(ScalarType.Float32, CPU).MoveToOuterDisposeScope();
        EndStage("decoding");
        return (video, new GenerationReport(stages, steps, [_codec.LatentChannels, latentFrames, latentHeight, latentWidth], grid.Tokens));
    }
}
