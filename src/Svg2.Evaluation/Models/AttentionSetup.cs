using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Configuration;
using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using Svg2.Evaluation.Methods;
using Svg2.Models.Attention;
using Svg2.Models.Wan;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Models;

/// <summary>
/// The self-attention a generation runs, by method name: dense SDPA, SVG2 (the CUDA kernels where they
/// apply, else the portable reference) or a baseline driven to a density, every sparse method under the
/// same dense warm-up. Owns the SVG2 state and backend, and a density meter for the report.
/// </summary>
public sealed class AttentionSetup : IDisposable
{
    /// <summary>Method names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Methods { get; } = ["dense", MethodCatalog.Svg2, MethodCatalog.Svg2Ear, MethodCatalog.Blocks, "window"];

    readonly Svg2ModelState? _state;
    readonly CudaBackend? _backend;

    AttentionSetup(string method, ISelfAttentionProcessor processor, AttentionDensityMeter meter, Svg2ModelState? state, CudaBackend? backend, string? note)
    {
        (Method, Processor, Meter, _state, _backend, Note) = (method, processor, meter, state, backend, note);
    }

    /// <summary>The method's name.</summary>
    public string Method { get; }

    /// <summary>The processor to set on the model.</summary>
    public ISelfAttentionProcessor Processor { get; }

    /// <summary>Densities per step, for the pipeline's report.</summary>
    public AttentionDensityMeter Meter { get; }

    /// <summary>Why the CUDA kernels were passed over, when they were; null otherwise.</summary>
    public string? Note { get; }

    /// <summary>Builds the attention for <paramref name="model"/>.</summary>
    /// <param name="method">One of <see cref="Methods"/>.</param>
    /// <param name="model">The transformer (its config, device and dtype decide the backend).</param>
    /// <param name="options">SVG2's clustering and selection options (its target density included).</param>
    /// <param name="warmup">Which calls run dense, for every sparse method alike.</param>
    /// <param name="density">The density the baselines are driven to (required for them).</param>
    /// <exception cref="ArgumentException">An unknown method, or a baseline without a density; FP8 precision with a method or head dimension it does not cover.</exception>
    /// <exception cref="NotSupportedException">FP8 precision on a model on a GPU or with settings the FP8 kernels do not take.</exception>
    public static AttentionSetup Create(string method, WanModel model, Svg2Options options, DenseWarmupPolicy warmup, double? density)
    {
        var fp8Backend = options.Precision == AttentionPrecision.Fp8 ? RequireFp8(method, model, options) : null;
        var dense = new DenseAttentionProcessor(options.Precision, options.Fp8, fp8Backend);
        var meter = new AttentionDensityMeter();
        switch (method.ToLowerInvariant())
        {
            case "dense":
                return new AttentionSetup("dense", new MeteredDense(meter, dense), meter, null, fp8Backend, null);
            case MethodCatalog.Svg2 or MethodCatalog.Svg2Ear:
            {
                options.Validate();
                string? note = null;
                var backend = fp8Backend ?? ChooseBackend(model, out note);
                var state = new Svg2ModelState(model.Config.Layers);
                var methodOptions = MethodCatalog.OptionsFor(method, options);
                var processor = new Svg2AttentionProcessor(new Svg2Attention(methodOptions, backend), state, warmup, dense);
                meter.Observe(processor);
                return new AttentionSetup(method.ToLowerInvariant(), processor, meter, state, backend, note ?? processor.Attention.FallbackReason);
            }
            case MethodCatalog.Blocks or "window":
            {
                if (density is not { } target) throw new ArgumentException($"Method '{method}' is driven to a density: give one (--density).");
                // The baselines' block attention runs on the same CUDA kernels as SVG2's where they apply; position
                // blocks are as many as SVG2's query and key clusters (MethodCatalog's matched granularity).
                var backend = ChooseBackend(model, out var note);
                string name = method.ToLowerInvariant();
                var processor = new MethodAttentionProcessor(
                    call => MethodCatalog.Create(name, options, new TokenGrid(call.Grid.Frames, call.Grid.Height, call.Grid.Width), backend: backend, targetDensity: target),
                    target, warmup) { Meter = meter };
                return new AttentionSetup(name, processor, meter, null, backend, note);
            }
            default:
                meter.Dispose();
                throw new ArgumentException($"Unknown attention method '{method}'. Known methods: {string.Join(", ", Methods)}.");
        }
    }

    // Checked before anything is built, so that a long generation does not stop at its first attention call. On CUDA,
    // the backend whose FP8 kernels then run every FP8 call, dense ones included; on the CPU, none (the emulation).
    static CudaBackend? RequireFp8(string method, WanModel model, Svg2Options options)
    {
        MethodCatalog.RequirePrecisionSupport(method, options);
        Fp8Tiles.RequireHeadDim(model.Config.HeadDim);
        if (model.Device.type != DeviceType.CUDA) return null;
        var backend = ChooseBackend(model, out var note)
            ?? throw new NotSupportedException($"FP8 attention on CUDA runs in the CUDA kernels, which cannot run this model: {note}.");
        var library = KernelLibrary.For(CudaDevice.Get(Math.Max(0, (int)model.Device.index)), model.WeightType, (int)model.Config.HeadDim);
        if (Svg2.Cuda.Stages.Fp8AttentionKernels.Unsupported(library, options.Fp8) is { } reason)
        {
            backend.Dispose();
            throw new NotSupportedException(reason);
        }
        return backend;
    }

    // The kernels take bf16/f16 CUDA tensors with head dimension 64 or 128, and need NVRTC to compile.
    static CudaBackend? ChooseBackend(WanModel model, out string? note)
    {
        note = null;
        if (model.Device.type != DeviceType.CUDA) return null;
        if (model.WeightType is not (ScalarType.BFloat16 or ScalarType.Float16))
            note = $"the CUDA kernels take bf16 or f16; the model is {model.WeightType}";
        else if (!TensorChecks.IsSupportedHeadDim(model.Config.HeadDim))
            note = $"the CUDA kernels take head dimension 64 or 128; the model's is {model.Config.HeadDim}";
        else if (!CudaToolchain.IsAvailable(out var missing))
            note = missing;
        return note is null ? new CudaBackend() : null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _state?.Dispose();
        _backend?.Dispose();
        Meter.Dispose();
    }

    sealed class MeteredDense(AttentionDensityMeter meter, DenseAttentionProcessor dense) : ISelfAttentionProcessor
    {
        public Tensor Process(AttentionCall call)
        {
            meter.AddDense(call.Query.shape[0] * call.Query.shape[1]);
            return dense.Process(call);
        }
    }
}
