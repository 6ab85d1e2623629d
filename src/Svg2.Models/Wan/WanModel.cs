using Svg2.Models.Attention;
using Svg2.Models.Kernels;
using Svg2.Models.Profiling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// The Wan 2.1 diffusion transformer (text to video 1.3B and 14B, image to video 14B), as the public
/// Wan 2.1 code defines it, with module names equal to the official checkpoint keys so that loading is
/// a name match (see <see cref="WanCheckpoint"/>).
/// </summary>
/// <remarks>
/// Self-attention goes through <see cref="SelfAttentionProcessor"/>, called once per block with the
/// layer, step and guidance pass; the model does not know which method runs. Weights may be float32
/// or bf16. <see cref="Numerics"/> chooses where a forward rounds: <see cref="WanNumerics.Reference"/>
/// follows the reference's bf16 autocast (linear layers and attention in bf16; norms, modulation,
/// residual stream, time embedding and head in float32), <see cref="WanNumerics.Fast"/> keeps the
/// residual stream in the weights' dtype with fused norm, rotation and residual kernels on a GPU.
/// Inference only: parameters do not require gradients.
/// </remarks>
public sealed class WanModel : nn.Module
{
    /// <summary>The configuration the model was built with.</summary>
    public WanConfig Config { get; }

    /// <summary>Self-attention method for every block; dense SDPA by default.</summary>
    public ISelfAttentionProcessor SelfAttentionProcessor { get; set; } = DenseAttentionProcessor.Instance;

    /// <summary>Where forwards round; <see cref="WanNumerics.Fast"/> by default (conformance checks use <see cref="WanNumerics.Reference"/>).</summary>
    public WanNumerics Numerics { get; set; } = WanNumerics.Fast;

    /// <summary>Receives the op-class boundaries of every forward (for a time breakdown), or null.</summary>
    public IOpProfiler? Profiler { get; set; }

    /// <summary>
    /// The kernels of the fast numerics' memory-bound steps: the fused CUDA kernels where they can run
    /// (bf16/fp16 weights on a GPU with a working driver and NVRTC), the portable operations otherwise;
    /// <see cref="BlockKernelsFallbackReason"/> says why. Settable, for example to compare both.
    /// </summary>
    public IWanBlockKernels BlockKernels
    {
        get => _blockKernels ??= WanBlockKernelChoice.For(Device, WeightType, out _blockKernelsFallbackReason);
        set => (_blockKernels, _blockKernelsFallbackReason) = (value, null);
    }

    /// <summary>Why <see cref="BlockKernels"/> are the portable operations, or null when they are the chosen ones.</summary>
    public string? BlockKernelsFallbackReason => BlockKernels is TorchWanBlockKernels ? _blockKernelsFallbackReason : null;

    IWanBlockKernels? _blockKernels;
    string? _blockKernelsFallbackReason;
    WanRotaryEmbedding? _rope;

    internal Conv3d PatchEmbedding { get; }
    internal WanMlp TextEmbedding { get; }
    internal WanMlp TimeEmbedding { get; }
    internal WanTimeProjection TimeProjection { get; }
    internal ModuleList<WanAttentionBlock> Blocks { get; }
    internal WanHead Head { get; }
    internal WanImageProjection? ImageEmbedding { get; }

    /// <summary>Creates the model with random weights (replace them with <see cref="WanCheckpoint.Load(WanModel, string)"/>).</summary>
    public WanModel(WanConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(WanModel))
    {
        config.Validate();
        Config = config;
        var patch = ((long)config.PatchSize.Frames, (long)config.PatchSize.Height, (long)config.PatchSize.Width);
        PatchEmbedding = nn.Conv3d(config.InDim, config.Dim, patch, stride: patch, device: device, dtype: dtype);
        TextEmbedding = new WanMlp(config.TextDim, config.Dim, config.Dim, WanActivation.GeluTanh, device, dtype);
        TimeEmbedding = new WanMlp(config.FreqDim, config.Dim, config.Dim, WanActivation.Silu, device, dtype);
        TimeProjection = new WanTimeProjection(config.Dim, device, dtype);
        Blocks = new ModuleList<WanAttentionBlock>();
        for (int layer = 0; layer < config.Layers; layer++) Blocks.Add(new WanAttentionBlock(config, layer, device, dtype));
        Head = new WanHead(config, device, dtype);
        register_module("patch_embedding", PatchEmbedding);
        register_module("text_embedding", TextEmbedding);
        register_module("time_embedding", TimeEmbedding);
        register_module("time_projection", TimeProjection);
        register_module("blocks", Blocks);
        register_module("head", Head);
        if (config.ModelType == WanModelType.ImageToVideo)
        {
            ImageEmbedding = new WanImageProjection(config.ImageDim, config.Dim, device, dtype);
            register_module("img_emb", ImageEmbedding);
        }
        foreach (var parameter in parameters()) parameter.requires_grad = false;
    }

    /// <summary>The dtype of the weights.</summary>
    public ScalarType WeightType => PatchEmbedding.weight!.dtype;

    /// <summary>The device of the weights.</summary>
    public Device Device => PatchEmbedding.weight!.device;

    /// <summary>The token grid for latents of F x H x W.</summary>
    public LatentGrid GridFor(long frames, long height, long width)
    {
        var (pf, ph, pw) = Config.PatchSize;
        if (frames % pf != 0 || height % ph != 0 || width % pw != 0)
            throw new ArgumentException($"Latent size {frames}x{height}x{width} is not divisible by the patch size {pf}x{ph}x{pw}.");
        return new LatentGrid((int)(frames / pf), (int)(height / ph), (int)(width / pw));
    }

    /// <summary>
    /// The predicted flow, [B, out_dim, F, H, W] float32.
    /// </summary>
    /// <param name="inputs">Latents, timesteps, text context and, for image to video, CLIP features and the image condition.</param>
    /// <param name="context">Step and guidance pass, handed to the attention processor (step 0, conditional pass alone when null).</param>
    /// <param name="blockOutput">Called with each block's index and output [B, S, dim] (for conformance checks).</param>
    public Tensor Forward(WanInputs inputs, ForwardContext? context = null, Action<int, Tensor>? blockOutput = null)
    {
        using var noGrad = no_grad();
        return Run(inputs, context ?? new ForwardContext(0), SelfAttentionProcessor, Numerics, BlockKernels, blockOutput);
    }

    /// <summary>
    /// The predicted flow, [B, out_dim, F, H, W] float32, recording the autograd graph: the forward of
    /// training. It runs the reference numerics (what Wan's training under bf16 autocast computes: linear
    /// layers and attention in the weights' dtype, the residual stream in float32) with dense attention
    /// and the portable operations, whatever <see cref="Numerics"/>, <see cref="SelfAttentionProcessor"/>
    /// and <see cref="BlockKernels"/> say; <see cref="Profiler"/> still receives its op classes.
    /// </summary>
    /// <param name="inputs">Latents, timesteps and context (text to video).</param>
    public Tensor ForwardWithGradients(WanInputs inputs) =>
        Run(inputs, new ForwardContext(0), DenseAttentionProcessor.Instance, WanNumerics.Reference, TorchWanBlockKernels.Instance, null);

    Tensor Run(WanInputs inputs, ForwardContext forward, ISelfAttentionProcessor processor, WanNumerics numerics, IWanBlockKernels kernels,
        Action<int, Tensor>? blockOutput)
    {
        using var scope = NewDisposeScope();
        Profiler?.Enter(WanOpClass.OutsideBlocks);
        var latents = ValidatedLatents(inputs);
        long batch = latents.shape[0];

        var grid = GridFor(latents.shape[2], latents.shape[3], latents.shape[4]);
        var x = EmbedPatches(latents, grid);

        var sinusoid = SinusoidalEmbedding(inputs.Timesteps.to(Device), Config.FreqDim);
        var timeEmbedding = TimeEmbedding.ForwardInFloat32(sinusoid);
        var timeModulation = TimeProjection.Forward(timeEmbedding).unflatten(1, [6, Config.Dim]);

        var text = TextEmbedding.Forward(PaddedText(inputs.Context.to(Device), batch));
        if (ImageEmbedding is not null)
            text = cat([ImageEmbedding.Forward(inputs.ClipFeatures!.to(Device)).to(text.dtype), text], 1);

        var run = new WanBlockRun(RotaryEmbeddingFor(grid), processor, forward, numerics, kernels, Profiler);
        for (int layer = 0; layer < Blocks.Count; layer++)
        {
            using var blockScope = NewDisposeScope();
            Profiler?.BlockStarts(layer);
            if (numerics == WanNumerics.Fast)
            {
                Blocks[layer].ForwardInPlace(x, timeModulation, text, run);
            }
            else
            {
                x = Blocks[layer].Forward(x, timeModulation, text, run);
                x = x.MoveToOuterDisposeScope();
            }
            blockOutput?.Invoke(layer, x);
        }
        Profiler?.Enter(WanOpClass.OutsideBlocks);
        var output = Head.Forward(x, timeEmbedding, numerics, kernels);
        return Unpatchify(output, grid).MoveToOuterDisposeScope();
    }

    // The tables depend only on the grid: a sampling loop builds them once, not once per step.
    WanRotaryEmbedding RotaryEmbeddingFor(LatentGrid grid)
    {
        if (_rope is { } cached && cached.Grid == grid) return cached;
        _rope?.Dispose();
        return _rope = new WanRotaryEmbedding(grid, Config.HeadDim, Device);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _rope?.Dispose();
            _rope = null;
        }
        base.Dispose(disposing);
    }

    Tensor ValidatedLatents(WanInputs inputs)
    {
        var latents = inputs.Latents;
        if (latents.dim() != 5) throw new ArgumentException($"Latents must be [B, C, F, H, W]; got [{string.Join(", ", latents.shape)}].");
        long batch = latents.shape[0];
        if (inputs.Timesteps.dim() != 1 || inputs.Timesteps.shape[0] != batch)
            throw new ArgumentException($"Timesteps must be [{batch}]; got [{string.Join(", ", inputs.Timesteps.shape)}].");
        if (inputs.Context.dim() != 3 || inputs.Context.shape[0] != batch || inputs.Context.shape[2] != Config.TextDim || inputs.Context.shape[1] > Config.TextLength)
            throw new ArgumentException($"Context must be [{batch}, L <= {Config.TextLength}, {Config.TextDim}]; got [{string.Join(", ", inputs.Context.shape)}].");
        if (Config.ModelType == WanModelType.ImageToVideo)
        {
            if (inputs.ClipFeatures is null || inputs.ImageCondition is null)
                throw new ArgumentException("An image-to-video model needs CLIP features and the image condition.");
            if (inputs.ClipFeatures.dim() != 3 || inputs.ClipFeatures.shape[0] != batch || inputs.ClipFeatures.shape[2] != Config.ImageDim)
                throw new ArgumentException($"CLIP features must be [{batch}, tokens, {Config.ImageDim}]; got [{string.Join(", ", inputs.ClipFeatures.shape)}].");
            var condition = inputs.ImageCondition;
            if (condition.dim() != 5 || condition.shape[0] != batch || !condition.shape.Skip(2).SequenceEqual(latents.shape.Skip(2)))
                throw new ArgumentException($"Image condition must be [{batch}, C, {string.Join(", ", latents.shape.Skip(2))}]; got [{string.Join(", ", condition.shape)}].");
            latents = cat([latents.to(Device), condition.to(latents.dtype, Device)], 1);
        }
        else if (inputs.ClipFeatures is not null || inputs.ImageCondition is not null)
        {
            throw new ArgumentException("A text-to-video model takes no CLIP features or image condition.");
        }
        if (latents.shape[1] != Config.InDim)
            throw new ArgumentException($"The model takes {Config.InDim} input channels; got {latents.shape[1]}.");
        GridFor(latents.shape[2], latents.shape[3], latents.shape[4]);
        return latents.to(Device);
    }

    // A convolution whose stride equals its kernel is one linear map per patch; as a matrix product it
    // avoids the convolution library's reduced-precision (TF32) float32 path.
    internal Tensor EmbedPatches(Tensor latents, LatentGrid grid)
    {
        using var scope = NewDisposeScope();
        var (pf, ph, pw) = Config.PatchSize;
        long batch = latents.shape[0], channels = latents.shape[1];
        var patches = latents.to(WeightType)
            .view(batch, channels, grid.Frames, pf, grid.Height, ph, grid.Width, pw)
            .permute(0, 2, 4, 6, 1, 3, 5, 7)
            .reshape(batch, grid.Tokens, channels * pf * ph * pw);
        var weight = PatchEmbedding.weight!.view(Config.Dim, -1);
        return nn.functional.linear(patches, weight, PatchEmbedding.bias).MoveToOuterDisposeScope();
    }

    // Wan pads every prompt with zero tokens to the text length before the text embedding; the padded
    // tokens are attended to like the others.
    Tensor PaddedText(Tensor context, long batch)
    {
        long missing = Config.TextLength - context.shape[1];
        if (missing == 0) return context;
        return cat([context, zeros(batch, missing, context.shape[2], dtype: context.dtype, device: context.device)], 1);
    }

    /// <summary>
    /// [B, dim] float32: cos then sin of t x 10000^(-j/half), j &lt; half = dim/2, computed in float64.
    /// </summary>
    public static Tensor SinusoidalEmbedding(Tensor timesteps, int dim)
    {
        using var scope = NewDisposeScope();
        int half = dim / 2;
        var position = timesteps.to(ScalarType.Float64);
        var frequencies = pow(10000.0, -(arange(half, dtype: ScalarType.Float64, device: timesteps.device) / half));
        var sinusoid = outer(position, frequencies);
        return cat([sinusoid.cos(), sinusoid.sin()], 1).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    Tensor Unpatchify(Tensor x, LatentGrid grid)
    {
        var (pf, ph, pw) = Config.PatchSize;
        long batch = x.shape[0];
        using var view = x.view(batch, grid.Frames, grid.Height, grid.Width, pf, ph, pw, Config.OutDim);
        using var permuted = view.permute(0, 7, 1, 4, 2, 5, 3, 6);
        return permuted.reshape(batch, Config.OutDim, grid.Frames * pf, grid.Height * ph, grid.Width * pw);
    }
}
