using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Kernels;

/// <summary>
/// The fast-numerics block steps as fused CUDA kernels (<c>transformer_block.cu</c>, compiled with the
/// other kernels at run time), on the legacy default stream so they are ordered with libtorch's work.
/// </summary>
/// <remarks>
/// Takes contiguous bf16 or fp16 CUDA activations. A head width the kernels are not compiled for (64 and
/// 128 are) makes <see cref="RmsNormToHeads"/> run the portable operations instead.
/// </remarks>
public sealed class CudaWanBlockKernels : IWanBlockKernels
{
    /// <summary>A shared instance; libraries are cached per device and dtype.</summary>
    public static CudaWanBlockKernels Instance { get; } = new();

    // The layer norm and residual kernels do not depend on the head width, but every library is
    // compiled for one; this one is the head width of every Wan model.
    const int LibraryHeadDim = 128;

    /// <inheritdoc/>
    public string Name => "cuda";

    /// <inheritdoc/>
    public bool Supports(Tensor x, out string? reason)
    {
        if (!TransformerBlockKernels.Supports(x, out reason)) return false;
        return CudaToolchain.IsAvailable(out reason);
    }

    /// <inheritdoc/>
    public Tensor ModulatedLayerNorm(Tensor x, Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale, double eps)
    {
        WanBlockKernelChecks.RequireModulation(x, shift, scale);
        using var scope = NewDisposeScope();
        var output = empty_like(x);
        TransformerBlockKernels.EnqueueModulatedLayerNorm(LibraryFor(x, LibraryHeadDim), x, output,
            Float32(weight), Float32(bias), Float32(shift), Float32(scale), eps, IntPtr.Zero);
        return output.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void GatedResidualAdd(Tensor x, Tensor y, Tensor? gate)
    {
        WanBlockKernelChecks.RequireResidual(x, y, gate);
        using var scope = NewDisposeScope();
        TransformerBlockKernels.EnqueueGatedResidualAdd(LibraryFor(x, LibraryHeadDim), x, y.contiguous(), Float32(gate), IntPtr.Zero);
    }

    /// <inheritdoc/>
    public Tensor RmsNormToHeads(Tensor x, Tensor weight, int heads, Tensor? cos, Tensor? sin, double eps)
    {
        WanBlockKernelChecks.RequireRmsNorm(x, weight, heads, cos, sin);
        long headDim = x.shape[2] / heads;
        if (!TensorChecks.IsSupportedHeadDim(headDim)) return TorchWanBlockKernels.Instance.RmsNormToHeads(x, weight, heads, cos, sin, eps);
        using var scope = NewDisposeScope();
        var output = empty([x.shape[0], heads, x.shape[1], headDim], x.dtype, x.device);
        TransformerBlockKernels.EnqueueRmsNormToHeads(LibraryFor(x, (int)headDim), x, Float32(weight)!, Float32(cos), Float32(sin), output, eps, IntPtr.Zero);
        return output.MoveToOuterDisposeScope();
    }

    static KernelLibrary LibraryFor(Tensor x, int headDim) =>
        KernelLibrary.For(CudaDevice.Get(Math.Max(0, (int)x.device_index)), x.dtype, headDim);

    // The kernels read small per-channel vectors as contiguous float32; converting them costs a few
    // kilobytes, against megabytes of activations.
    static Tensor? Float32(Tensor? vector) => vector?.to(ScalarType.Float32).contiguous();
}
