using Svg2.Models.Sampling;
using Svg2.Models.Schedulers;
using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>What to generate: prompt, first frame for image to video, size, length, sampling schedule and seed (Wan 2.1's defaults).</summary>
public sealed record VideoRequest
{
    /// <summary>The prompt.</summary>
    public required string Prompt { get; init; }

    /// <summary>The negative prompt of classifier-free guidance's unconditional pass.</summary>
    public string NegativePrompt { get; init; } = "";

    /// <summary>
    /// Image to video: the first frame, [3, H, W] float32 in [-1, 1] of any size (see
    /// <see cref="Video.ImageFile.ReadSigned"/>); it is resized to <see cref="Width"/> x <see cref="Height"/>
    /// for the latent condition and to the CLIP input for the image tokens (<see cref="ImageToVideoSize"/> gives
    /// Wan's size for it). Null for text to video. The caller keeps owning it.
    /// </summary>
    public Tensor? Image { get; init; }

    /// <summary>Frame width in pixels.</summary>
    public int Width { get; init; } = 832;

    /// <summary>Frame height in pixels.</summary>
    public int Height { get; init; } = 480;

    /// <summary>Frames (4n + 1 for the Wan VAE).</summary>
    public int Frames { get; init; } = 81;

    /// <summary>Denoising steps.</summary>
    public int Steps { get; init; } = 50;

    /// <summary>Classifier-free guidance scale (1 runs the conditional pass only).</summary>
    public double Guidance { get; init; } = 5.0;

    /// <summary>The flow shift of the noise schedule.</summary>
    public double Shift { get; init; } = FlowShift.WanDefault;

    /// <summary>Seed of the initial noise (drawn on the CPU, so a seed gives the same video on every device).</summary>
    public long Seed { get; init; }

    /// <summary>The sampler: Wan's multistep UniPC (default) or first-order Euler.</summary>
    public SolverKind Solver { get; init; } = SolverKind.UniPC;

    /// <summary>How the guidance passes run.</summary>
    public GuidanceMode GuidanceMode { get; init; } = GuidanceMode.Batched;

    /// <summary>The scheduler for this request.</summary>
    public IFlowScheduler CreateScheduler() => Solver switch
    {
        SolverKind.Euler => new FlowEulerScheduler(Steps, Shift),
        _ => new FlowUniPCScheduler(Steps, Shift),
    };
}

/// <summary>The flow-matching samplers.</summary>
public enum SolverKind
{
    /// <summary>Multistep UniPC (bh2), Wan's default.</summary>
    UniPC,

    /// <summary>First-order Euler.</summary>
    Euler,
}
