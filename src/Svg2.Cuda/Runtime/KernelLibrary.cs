using System.Collections.Concurrent;
using System.Text;
using Svg2.Cuda.Interop;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Runtime;

/// <summary>
/// Every SVG2 kernel compiled for one device, one element type and one head dimension (both are
/// compile-time constants of the kernels), loaded as driver modules, with a typed launch.
/// </summary>
public sealed unsafe class KernelLibrary
{
    static readonly ConcurrentDictionary<(int Device, ScalarType Element, int HeadDim), KernelLibrary> Libraries = new();

    readonly Dictionary<string, IntPtr> _functions = new(StringComparer.Ordinal);
    readonly Dictionary<IntPtr, int> _sharedLimits = new();
    readonly object _gate = new();

    KernelLibrary(CudaDevice device, ScalarType element, int headDim)
    {
        Device = device;
        Element = element;
        HeadDim = headDim;
        Family = KernelFamilyChoice.For(device.Architecture, Environment.GetEnvironmentVariable(KernelFamilyChoice.Setting));
        Traits = KernelTraits.For(element, headDim);
        device.MakeCurrent();
        var headers = KernelSources.Headers.Select(h => (h, KernelSources.Read(h))).ToList();
        foreach (var program in KernelSources.ProgramsFor(Family))
        {
            var cubin = KernelCompiler.Compile(program, KernelSources.Read(program), headers, Traits.CompileOptions(program), device.Architecture);
            IntPtr module;
            fixed (byte* image = cubin)
                CudaException.ThrowIfFailed(CudaDriver.cuModuleLoadData(&module, image), $"cuModuleLoadData({program}, {device.Architecture})");
            foreach (var function in KernelNames(program))
            {
                IntPtr handle;
                var name = Encoding.UTF8.GetBytes(function + "\0");
                fixed (byte* namePointer = name)
                    CudaException.ThrowIfFailed(CudaDriver.cuModuleGetFunction(&handle, module, namePointer), $"cuModuleGetFunction({function})");
                _functions[function] = handle;
            }
        }
    }

    /// <summary>The library for a device, element type and head dimension, compiled on first use.</summary>
    public static KernelLibrary For(CudaDevice device, ScalarType element, int headDim)
    {
        RequireCompiledShape(element, headDim);
        return Libraries.GetOrAdd((device.Ordinal, element, headDim), key => new KernelLibrary(device, key.Element, key.HeadDim));
    }

    /// <summary>Throws unless the kernels are compiled for <paramref name="element"/> and <paramref name="headDim"/>.</summary>
    public static void RequireCompiledShape(ScalarType element, int headDim)
    {
        if (!TensorChecks.IsSupportedElement(element)) throw new ArgumentException($"The CUDA kernels support BFloat16 and Float16, not {element}.");
        if (!TensorChecks.IsSupportedHeadDim(headDim)) throw new ArgumentException($"The CUDA kernels support head dimension 64 or 128, not {headDim}.");
    }

    /// <summary>The device the modules are loaded on.</summary>
    public CudaDevice Device { get; }

    /// <summary>Element type of q, k, v and centroids.</summary>
    public ScalarType Element { get; }

    /// <summary>Head dimension D.</summary>
    public int HeadDim { get; }

    /// <summary>The implementations of the k-means assignment and the sparse attention this library launches.</summary>
    public KernelFamily Family { get; }

    /// <summary>The compile-time shapes of the kernels: their macros, launch geometry and shared memory.</summary>
    internal KernelTraits Traits { get; }

    /// <summary>The NVRTC options (macros) that specialise <paramref name="program"/> for this process's <see cref="AttentionTuning"/>.</summary>
    public static IReadOnlyList<string> CompileOptions(string program, ScalarType element, int headDim) =>
        KernelTraits.For(element, headDim).CompileOptions(program);

    /// <summary>The extern "C" kernels each program defines.</summary>
    public static IReadOnlyList<string> KernelNames(string program) => program switch
    {
        "kmeans.cu" => ["svg2_centroid_norms", "svg2_kmeans_assign", "svg2_segment_means", "svg2_segment_means_wide"],
        "layout.cu" => ["svg2_label_histogram", "svg2_cluster_offsets", "svg2_stable_scatter"],
        "selection.cu" => ["svg2_centroid_dots", "svg2_select_key_clusters", "svg2_select_by_error"],
        "attention.cu" => ["svg2_key_ranges", "svg2_centroid_keys", "svg2_compensation_tail", "svg2_plan_tiles", "svg2_sparse_attention"],
        "transformer_block.cu" => ["svg2_modulated_layer_norm", "svg2_gated_residual_add", "svg2_rms_norm_to_heads"],
        "probe.cu" => ["svg2_probe_softmax", "svg2_probe_flash_softmax", "svg2_probe_centroid_softmax", "svg2_probe_merge", "svg2_probe_errors", "svg2_probe_key_sample"],
        "kmeans_hopper.cu" => ["svg2_centroid_tiles", "svg2_kmeans_assign_hopper", "svg2_centroid_tiles_fp8", "svg2_kmeans_assign_hopper_fp8",
            "svg2_segment_means_image", "svg2_segment_means_wide_image"],
        "attention_hopper.cu" => ["svg2_sparse_attention_hopper"],
        "tail_pairs.cu" => ["svg2_tail_candidates", "svg2_pair_tails", "svg2_pair_ranges"],
        "attention_hopper_fp8.cu" => ["svg2_fp8_quantize_rows", "svg2_fp8_channel_statistics", "svg2_sparse_attention_hopper_fp8", "svg2_sparse_attention_hopper_fp8_head_keys",
            "svg2_sparse_attention_hopper_fp8_smooth_queries", "svg2_sparse_attention_hopper_fp8_head_keys_smooth_queries"],
        _ => throw new ArgumentException($"Unknown kernel program {program}."),
    };

    /// <summary>Launches a kernel on <paramref name="stream"/> (0 = the legacy default stream libtorch uses).</summary>
    public void Launch(string kernel, (int X, int Y) grid, int threads, int sharedBytes, IntPtr stream, params ReadOnlySpan<KernelArgument> arguments)
    {
        if (grid.X <= 0 || grid.Y <= 0) return;
        if (!_functions.TryGetValue(kernel, out var function)) throw new ArgumentException($"No kernel named {kernel}.");
        Device.MakeCurrent();
        RaiseSharedLimit(function, kernel, sharedBytes);
        var values = stackalloc ulong[Math.Max(1, arguments.Length)];
        var pointers = stackalloc void*[Math.Max(1, arguments.Length)];
        for (int i = 0; i < arguments.Length; i++)
        {
            values[i] = arguments[i].Bits;
            pointers[i] = &values[i];
        }
        CudaException.ThrowIfFailed(
            CudaDriver.cuLaunchKernel(function, (uint)grid.X, (uint)grid.Y, 1, (uint)threads, 1, 1, (uint)sharedBytes, stream, pointers, null),
            $"cuLaunchKernel({kernel}, grid {grid.X}x{grid.Y}, {threads} threads, {sharedBytes} B shared)");
    }

    /// <summary>Kernels above 48 KiB of dynamic shared memory must opt in once per function.</summary>
    void RaiseSharedLimit(IntPtr function, string kernel, int sharedBytes)
    {
        const int DefaultSharedLimit = 48 * 1024;
        if (sharedBytes <= DefaultSharedLimit) return;
        lock (_gate)
        {
            if (_sharedLimits.TryGetValue(function, out var limit) && limit >= sharedBytes) return;
            CudaException.ThrowIfFailed(CudaDriver.cuFuncSetAttribute(function, CudaDriver.FunctionAttributeMaxDynamicSharedBytes, sharedBytes),
                $"cuFuncSetAttribute({kernel}, max dynamic shared memory {sharedBytes} B)");
            _sharedLimits[function] = sharedBytes;
        }
    }
}
