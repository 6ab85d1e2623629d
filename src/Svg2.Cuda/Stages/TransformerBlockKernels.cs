using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// Fused memory-bound kernels of the Wan transformer block (transformer_block.cu) with "fast" numerics:
/// the residual stream stays in the library's element type (bf16 or fp16), norms and products are
/// computed in float32, and each output element is rounded once. Every argument is checked before
/// anything is launched; a bad one is an <see cref="ArgumentException"/> naming it and its shape.
/// </summary>
public static class TransformerBlockKernels
{
    /// <summary>The widest row (W) the row kernels hold in registers: 256 threads x 4 vectors x 8 elements.</summary>
    public const int MaxWidth = TransformerBlockTraits.MaxWidth;

    /// <summary>Elements in one 16-byte vector: rows are moved in whole vectors, so W must be a multiple of it.</summary>
    public const int VectorElements = TransformerBlockTraits.VectorElements;

    // Enough resident blocks to cover each multiprocessor's 2048 threads with loads in flight.
    const int ResidualBlocksPerMultiprocessor = 8;
    // The grid's y extent, which the residual add spends on batch elements.
    const int MaxGridRows = 65535;

    /// <summary>
    /// Enqueues the modulated layer norm of every token row:
    /// <c>output = (((x - mean) * rsqrt(var + eps)) * weight + bias) * (1 + scale[b]) + shift[b]</c>,
    /// mean and biased variance over the row in float32 (as <c>torch.nn.functional.layer_norm</c>),
    /// rounded once to the element type.
    /// </summary>
    /// <param name="library">Kernels of the element type of <paramref name="x"/>, on its device.</param>
    /// <param name="x">[B, S, W] contiguous, <see cref="KernelLibrary.Element"/>; W a multiple of 8, at most <see cref="MaxWidth"/>.</param>
    /// <param name="output">Same shape and dtype as <paramref name="x"/>, contiguous; it may be <paramref name="x"/> itself (normalised in place), but no other view overlapping it.</param>
    /// <param name="weight">[W] float32 contiguous, or null for 1.</param>
    /// <param name="bias">[W] float32 contiguous, or null for 0.</param>
    /// <param name="shift">[B, W] float32 contiguous, or null (with <paramref name="scale"/>) for no modulation.</param>
    /// <param name="scale">[B, W] float32 contiguous, or null (with <paramref name="shift"/>) for no modulation.</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="stream">CUDA stream (0 = the legacy default stream libtorch uses).</param>
    public static void EnqueueModulatedLayerNorm(KernelLibrary library, Tensor x, Tensor output, Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale, double eps, IntPtr stream)
    {
        ArgumentNullException.ThrowIfNull(library);
        ValidateModulatedLayerNorm(library.Element, x, output, weight, bias, shift, scale);
        RequireLibraryDevice(library, x, nameof(x));
        long batch = x.shape[0], tokens = x.shape[1];
        int width = (int)x.shape[2];
        library.Launch("svg2_modulated_layer_norm", (checked((int)(batch * tokens)), 1), TransformerBlockTraits.RowThreads(width), 0, stream,
            Address(x, library.Element, nameof(x)), Address(output, library.Element, nameof(output)),
            OptionalAddress(weight, nameof(weight)), OptionalAddress(bias, nameof(bias)),
            OptionalAddress(shift, nameof(shift)), OptionalAddress(scale, nameof(scale)),
            width, checked((int)Math.Max(1, tokens)), (float)eps);
    }

    /// <summary>Enqueues the gated residual update <c>x = x + y * gate[b]</c> in place, computed in float32 and rounded once.</summary>
    /// <param name="library">Kernels of the element type of <paramref name="x"/>, on its device.</param>
    /// <param name="x">[B, S, W] contiguous, <see cref="KernelLibrary.Element"/>; W a multiple of 8; updated in place.</param>
    /// <param name="y">The same shape and dtype as <paramref name="x"/>, contiguous, not overlapping it.</param>
    /// <param name="gate">[B, W] float32 contiguous, or null for 1.</param>
    /// <param name="stream">CUDA stream (0 = the legacy default stream libtorch uses).</param>
    public static void EnqueueGatedResidualAdd(KernelLibrary library, Tensor x, Tensor y, Tensor? gate, IntPtr stream)
    {
        ArgumentNullException.ThrowIfNull(library);
        ValidateGatedResidualAdd(library.Element, x, y, gate);
        RequireLibraryDevice(library, x, nameof(x));
        long batch = x.shape[0];
        int width = (int)x.shape[2];
        int batchVectors = (int)(x.shape[1] * width / VectorElements);
        long blocksNeeded = ((long)batchVectors + TransformerBlockTraits.ResidualThreads * TransformerBlockTraits.ResidualUnroll - 1)
            / (TransformerBlockTraits.ResidualThreads * TransformerBlockTraits.ResidualUnroll);
        long residentBlocks = Math.Max(1, (long)library.Device.Multiprocessors * ResidualBlocksPerMultiprocessor / Math.Max(1, batch));
        int blocks = (int)Math.Min(blocksNeeded, residentBlocks);
        library.Launch("svg2_gated_residual_add", (blocks, checked((int)batch)), TransformerBlockTraits.ResidualThreads, 0, stream,
            Address(x, library.Element, nameof(x)), Address(y, library.Element, nameof(y)), OptionalAddress(gate, nameof(gate)),
            batchVectors, width);
    }

    /// <summary>
    /// Enqueues Wan's q/k RMS norm over the full row (all heads) with a float32 weight, then, when
    /// <paramref name="cos"/> and <paramref name="sin"/> are given, the rotation of each head's
    /// interleaved pairs (2j, 2j + 1) by (cos[s, j], sin[s, j]): <c>(a c - b s, a s + b c)</c>; written
    /// head-major to <paramref name="output"/>, rounded once.
    /// </summary>
    /// <param name="library">Kernels of the element type of <paramref name="x"/> and head dimension D, on its device.</param>
    /// <param name="x">[B, S, W] contiguous, <see cref="KernelLibrary.Element"/>; W = H x D, at most <see cref="MaxWidth"/>.</param>
    /// <param name="weight">[W] float32 contiguous.</param>
    /// <param name="cos">[S, D / 2] float32 contiguous (row s = token s of every batch element), or null with <paramref name="sin"/>.</param>
    /// <param name="sin">[S, D / 2] float32 contiguous, or null with <paramref name="cos"/>.</param>
    /// <param name="output">[B, H, S, D] contiguous, <see cref="KernelLibrary.Element"/>, not overlapping <paramref name="x"/>.</param>
    /// <param name="eps">Added to the mean square.</param>
    /// <param name="stream">CUDA stream (0 = the legacy default stream libtorch uses).</param>
    public static void EnqueueRmsNormToHeads(KernelLibrary library, Tensor x, Tensor weight, Tensor? cos, Tensor? sin, Tensor output, double eps, IntPtr stream)
    {
        ArgumentNullException.ThrowIfNull(library);
        ValidateRmsNormToHeads(library.Element, library.HeadDim, x, weight, cos, sin, output);
        RequireLibraryDevice(library, x, nameof(x));
        long batch = x.shape[0], tokens = x.shape[1];
        int width = (int)x.shape[2];
        library.Launch("svg2_rms_norm_to_heads", (checked((int)(batch * tokens)), 1), TransformerBlockTraits.RowThreads(width), 0, stream,
            Address(x, library.Element, nameof(x)), Address(weight, ScalarType.Float32, nameof(weight)),
            OptionalAddress(cos, nameof(cos)), OptionalAddress(sin, nameof(sin)), Address(output, library.Element, nameof(output)),
            checked((int)Math.Max(1, tokens)), width, (float)eps);
    }

    /// <summary>
    /// Whether the kernels take <paramref name="x"/> as their [B, S, W] activation: a CUDA tensor of
    /// BFloat16 or Float16, 3-D, contiguous, with W a multiple of 8 and at most <see cref="MaxWidth"/>.
    /// </summary>
    /// <param name="x">The activation.</param>
    /// <param name="reason">Why not, naming the problem; null when supported.</param>
    public static bool Supports(Tensor x, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(x);
        reason = x.device_type != DeviceType.CUDA ? $"x is on {x.device}, not a CUDA device."
            : ActivationProblem(x, "x", x.dtype);
        return reason is null;
    }

    /// <summary>The checks of <see cref="EnqueueModulatedLayerNorm"/> that need no library (and so no GPU).</summary>
    internal static void ValidateModulatedLayerNorm(ScalarType element, Tensor x, Tensor output, Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale)
    {
        RequireActivation(x, nameof(x), element);
        long batch = x.shape[0], width = x.shape[2];
        RequireSameShape(output, nameof(output), x, element);
        if (weight is not null) RequireFloat32(weight, nameof(weight), x, width);
        if (bias is not null) RequireFloat32(bias, nameof(bias), x, width);
        if ((shift is null) != (scale is null))
            throw new ArgumentException($"shift and scale must both be given or both be null; got shift {Describe(shift)} and scale {Describe(scale)} for x [{Shape(x)}].",
                shift is null ? nameof(shift) : nameof(scale));
        if (shift is not null) RequireFloat32(shift, nameof(shift), x, batch, width);
        if (scale is not null) RequireFloat32(scale, nameof(scale), x, batch, width);
        RequireDevice(x, (nameof(x), x), (nameof(output), output), (nameof(weight), weight), (nameof(bias), bias), (nameof(shift), shift), (nameof(scale), scale));
    }

    /// <summary>The checks of <see cref="EnqueueGatedResidualAdd"/> that need no library (and so no GPU).</summary>
    internal static void ValidateGatedResidualAdd(ScalarType element, Tensor x, Tensor y, Tensor? gate)
    {
        RequireActivation(x, nameof(x), element);
        RequireSameShape(y, nameof(y), x, element);
        if (x.shape[0] > MaxGridRows)
            throw new ArgumentException($"x [{Shape(x)}] has more than {MaxGridRows} batch elements (one grid row each).", nameof(x));
        if (x.shape[1] * x.shape[2] / VectorElements > int.MaxValue)
            throw new ArgumentException($"x [{Shape(x)}] has more than {int.MaxValue} 16-byte vectors per batch element; split the sequence.", nameof(x));
        if (gate is not null) RequireFloat32(gate, nameof(gate), x, x.shape[0], x.shape[2]);
        RequireDevice(x, (nameof(x), x), (nameof(y), y), (nameof(gate), gate));
    }

    /// <summary>The checks of <see cref="EnqueueRmsNormToHeads"/> that need no library (and so no GPU).</summary>
    internal static void ValidateRmsNormToHeads(ScalarType element, int headDim, Tensor x, Tensor weight, Tensor? cos, Tensor? sin, Tensor output)
    {
        RequireActivation(x, nameof(x), element);
        long batch = x.shape[0], tokens = x.shape[1], width = x.shape[2];
        if (width % headDim != 0)
            throw new ArgumentException($"x [{Shape(x)}] must have a width that is a multiple of the head dimension {headDim} (W = H x D).", nameof(x));
        ArgumentNullException.ThrowIfNull(weight);
        RequireFloat32(weight, nameof(weight), x, width);
        if ((cos is null) != (sin is null))
            throw new ArgumentException($"cos and sin must both be given or both be null; got cos {Describe(cos)} and sin {Describe(sin)} for x [{Shape(x)}].",
                cos is null ? nameof(cos) : nameof(sin));
        if (cos is not null) RequireFloat32(cos, nameof(cos), x, tokens, headDim / 2);
        if (sin is not null) RequireFloat32(sin, nameof(sin), x, tokens, headDim / 2);
        ArgumentNullException.ThrowIfNull(output);
        long[] heads = [batch, width / headDim, tokens, headDim];
        if (!output.shape.SequenceEqual(heads))
            throw new ArgumentException($"output must be [B, H, S, D] = [{string.Join(", ", heads)}] for x [{Shape(x)}] and head dimension {headDim}; got [{Shape(output)}].", nameof(output));
        RequireElement(output, nameof(output), element);
        RequireContiguous(output, nameof(output));
        RequireDevice(x, (nameof(x), x), (nameof(weight), weight), (nameof(cos), cos), (nameof(sin), sin), (nameof(output), output));
    }

    static void RequireActivation(Tensor x, string name, ScalarType element)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        var problem = ActivationProblem(x, name, element);
        if (problem is not null) throw new ArgumentException(problem, name);
    }

    /// <summary>What keeps a tensor from being a [B, S, W] activation of <paramref name="element"/>, or null; the device is checked separately.</summary>
    static string? ActivationProblem(Tensor x, string name, ScalarType element)
    {
        if (x.dim() != 3) return $"{name} must be [B, S, W]; got [{Shape(x)}].";
        if (!TensorChecks.IsSupportedElement(x.dtype)) return $"{name} is {x.dtype}; the CUDA kernels take BFloat16 or Float16.";
        if (x.dtype != element) return $"{name} must be {element} (the kernel library's element type); got {x.dtype}.";
        if (!x.is_contiguous()) return $"{name} must be contiguous (row-major); shape [{Shape(x)}] has strides [{string.Join(", ", x.stride())}]. Call .contiguous() first.";
        long width = x.shape[2];
        if (width <= 0 || width % VectorElements != 0) return $"{name} [{Shape(x)}] must have a width W that is a positive multiple of {VectorElements} (whole 16-byte vectors).";
        if (width > MaxWidth) return $"{name} [{Shape(x)}] is wider than the {MaxWidth} elements a row block holds.";
        return null;
    }

    static void RequireSameShape(Tensor tensor, string name, Tensor x, ScalarType element)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (!tensor.shape.SequenceEqual(x.shape))
            throw new ArgumentException($"{name} must have the shape of x [{Shape(x)}]; got [{Shape(tensor)}].", name);
        RequireElement(tensor, name, element);
        RequireContiguous(tensor, name);
    }

    static void RequireElement(Tensor tensor, string name, ScalarType element)
    {
        if (tensor.dtype != element)
            throw new ArgumentException($"{name} must be {element} (the kernel library's element type); got {tensor.dtype} [{Shape(tensor)}].", name);
    }

    static void RequireFloat32(Tensor tensor, string name, Tensor x, params long[] shape)
    {
        if (!tensor.shape.SequenceEqual(shape))
            throw new ArgumentException($"{name} must be [{string.Join(", ", shape)}] for x [{Shape(x)}]; got [{Shape(tensor)}].", name);
        if (tensor.dtype != ScalarType.Float32)
            throw new ArgumentException($"{name} [{Shape(tensor)}] must be Float32; got {tensor.dtype}.", name);
        RequireContiguous(tensor, name);
    }

    static void RequireContiguous(Tensor tensor, string name)
    {
        if (!tensor.is_contiguous())
            throw new ArgumentException($"{name} must be contiguous (row-major); shape [{Shape(tensor)}] has strides [{string.Join(", ", tensor.stride())}]. Call .contiguous() first.", name);
    }

    /// <summary>Every given tensor must be on the CUDA device of <paramref name="x"/>.</summary>
    static void RequireDevice(Tensor x, params (string Name, Tensor? Tensor)[] tensors)
    {
        foreach (var (name, tensor) in tensors)
        {
            if (tensor is null) continue;
            if (tensor.device_type != DeviceType.CUDA)
                throw new ArgumentException($"{name} [{Shape(tensor)}] must be on a CUDA device for the CUDA kernels; it is on {tensor.device}.", name);
            if (tensor.device.index != x.device.index)
                throw new ArgumentException($"{name} [{Shape(tensor)}] is on {tensor.device}; x is on {x.device}. All tensors must share x's device.", name);
        }
    }

    static void RequireLibraryDevice(KernelLibrary library, Tensor x, string name)
    {
        if (x.device.index != library.Device.Ordinal)
            throw new ArgumentException($"{name} [{Shape(x)}] is on {x.device}, but the kernel library is loaded on CUDA device {library.Device.Ordinal}.", name);
    }

    /// <summary>The device address of a checked tensor; the kernels move 16-byte vectors, so it must be 16-byte aligned.</summary>
    static DevicePointer Address(Tensor tensor, ScalarType dtype, string name)
    {
        var pointer = DevicePointer.Of(tensor, dtype, name);
        if (pointer.Address % TransformerBlockTraits.VectorBytes != 0)
            throw new ArgumentException($"{name} [{Shape(tensor)}] starts at an address that is not {TransformerBlockTraits.VectorBytes}-byte aligned (a view with a storage offset?); pass a fresh or .clone()d tensor.", name);
        return pointer;
    }

    /// <summary>The address of an optional float32 tensor, or a zero pointer (the kernels' "absent").</summary>
    static DevicePointer OptionalAddress(Tensor? tensor, string name) => tensor is null ? new DevicePointer(0) : Address(tensor, ScalarType.Float32, name);

    static string Describe(Tensor? tensor) => tensor is null ? "null" : $"[{Shape(tensor)}]";

    static string Shape(Tensor tensor) => string.Join(", ", tensor.shape);
}
