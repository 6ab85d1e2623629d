using Svg2.Models.Schedulers;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Models.Sampling;

/// <summary>
/// The denoising loop: from seeded Gaussian latents, at every step the model predicts the flow with
/// the conditional and the unconditional text, guidance combines them as
/// uncond + scale (cond - uncond), and the scheduler takes the step. Guidance pass 0 is conditional
/// and pass 1 unconditional; both indices reach the attention processor.
/// </summary>
public sealed class WanSampler
{
    readonly WanModel _model;

    /// <summary>Creates a sampler for a model (text or image to video).</summary>
    public WanSampler(WanModel model) => _model = model;

    /// <summary>Called before every step with its index, before any of the step's work is queued.</summary>
    public Action<int>? StepStarting { get; set; }

    /// <summary>Called after every step with its index and the new latents.</summary>
    public Action<int, Tensor>? StepCompleted { get; set; }

    /// <summary>
    /// Seeded standard-normal latents [1, C, F, H, W] float32 on <paramref name="device"/>, drawn on the
    /// CPU so that a seed gives the same noise on every device.
    /// </summary>
    public static Tensor Noise(long channels, long frames, long height, long width, long seed, Device device)
    {
        var generator = new Generator((ulong)seed);
        using var noise = randn([1, channels, frames, height, width], dtype: ScalarType.Float32, generator: generator);
        return noise.to(device);
    }

    /// <summary>Runs the whole loop and returns the final latents, float32.</summary>
    /// <param name="latents">Initial noise [1, C, F, H, W].</param>
    /// <param name="conditional">[1, L, 4096] prompt tokens.</param>
    /// <param name="unconditional">[1, L', 4096] negative-prompt tokens.</param>
    /// <param name="scheduler">A fresh (or reset) scheduler; its step count is the loop's.</param>
    /// <param name="guideScale">Guidance scale (Wan's default for text to video: 5.0).</param>
    /// <param name="guidance">Batched or sequential guidance passes.</param>
    /// <param name="clipFeatures">Image to video: [1, 257, 1280] CLIP tokens of the first frame, used by both passes.</param>
    /// <param name="imageCondition">Image to video: [1, 20, F, H, W] mask and image latents, used by both passes.</param>
    public Tensor Sample(Tensor latents, Tensor conditional, Tensor unconditional, IFlowScheduler scheduler, double guideScale,
        GuidanceMode guidance = GuidanceMode.Batched, Tensor? clipFeatures = null, Tensor? imageCondition = null)
    {
        if (latents.shape[0] != 1) throw new ArgumentException($"The sampler generates one video at a time; latents have batch {latents.shape[0]}.");
        var device = _model.Device;
        var x = latents.to(ScalarType.Float32, device);
        using var cond = conditional.to(device);
        using var uncond = unconditional.to(device);
        using var batchedContext = guidance == GuidanceMode.Batched ? StackContexts(cond, uncond) : null;
        using var clip = clipFeatures?.to(device);
        using var condition = imageCondition?.to(device);
        using var clipTwice = clip is not null && guidance == GuidanceMode.Batched ? cat([clip, clip], 0) : null;
        using var conditionTwice = condition is not null && guidance == GuidanceMode.Batched ? cat([condition, condition], 0) : null;
        for (int step = 0; step < scheduler.Timesteps.Count; step++)
        {
            StepStarting?.Invoke(step);
            using var scope = NewDisposeScope();
            double t = scheduler.Timesteps[step];
            Tensor flowCond, flowUncond;
            if (guidance == GuidanceMode.Batched)
            {
                var timesteps = full(2, t, dtype: ScalarType.Float32, device: device);
                var both = _model.Forward(new WanInputs(cat([x, x], 0), timesteps, batchedContext!, clipTwice, conditionTwice), new ForwardContext(step, 0, 2));
                flowCond = both.narrow(0, 0, 1);
                flowUncond = both.narrow(0, 1, 1);
            }
            else
            {
                var timesteps = full(1, t, dtype: ScalarType.Float32, device: device);
                flowCond = _model.Forward(new WanInputs(x, timesteps, cond, clip, condition), new ForwardContext(step, 0));
                flowUncond = _model.Forward(new WanInputs(x, timesteps, uncond, clip, condition), new ForwardContext(step, 1));
            }
            var flow = flowUncond + (flowCond - flowUncond) * guideScale;
            var next = scheduler.Step(flow, step, x);
            if (step > 0) x.Dispose();
            x = next.MoveToOuterDisposeScope();
            StepCompleted?.Invoke(step, x);
        }
        return x;
    }

    // Prompts of different lengths are padded with zero tokens, as the model pads each to the text length anyway.
    static Tensor StackContexts(Tensor cond, Tensor uncond)
    {
        long length = Math.Max(cond.shape[1], uncond.shape[1]);
        Tensor Pad(Tensor c) => c.shape[1] == length ? c : cat([c, zeros(1, length - c.shape[1], c.shape[2], dtype: c.dtype, device: c.device)], 1);
        return cat([Pad(cond), Pad(uncond)], 0);
    }
}
