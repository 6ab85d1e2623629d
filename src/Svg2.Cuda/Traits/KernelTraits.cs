using static TorchSharp.torch;

namespace Svg2.Cuda.Traits;

/// <summary>
/// Every compile-time shape of the kernels of one element type, head dimension and attention tuning:
/// the macros each program is compiled with (common.cuh's and its family's), and through the family
/// traits the launch geometry and shared memory the host sizes launches with. The kernel sources
/// define none of these values themselves, so host and kernels cannot disagree.
/// </summary>
internal sealed class KernelTraits
{
    /// <summary>Threads of a warp (common.cuh's kWarpSize, a property of the hardware).</summary>
    public const int WarpSize = 32;

    /// <summary>16-bit elements of a 16-byte chunk (common.cuh's kChunkElements, the width of one vector load).</summary>
    public const int ChunkElements = 8;

    /// <summary>The shapes for <paramref name="element"/>, <paramref name="headDim"/> and the portable attention's <paramref name="tuning"/>.</summary>
    public KernelTraits(ScalarType element, int headDim, AttentionTuning tuning)
    {
        Element = element;
        HeadDim = headDim;
        Attention = new SparseAttentionTraits(headDim, tuning);
        KMeans = new KMeansTraits(headDim);
    }

    /// <summary>The shapes of this process: its <see cref="AttentionTuning.Current"/>.</summary>
    public static KernelTraits For(ScalarType element, int headDim) => new(element, headDim, AttentionTuning.Current);

    /// <summary>Element type of q, k, v and centroids (bf16 or fp16).</summary>
    public ScalarType Element { get; }

    /// <summary>Head dimension D.</summary>
    public int HeadDim { get; }

    /// <summary>The sparse attention and its planning kernels.</summary>
    public SparseAttentionTraits Attention { get; }

    /// <summary>The k-means kernels.</summary>
    public KMeansTraits KMeans { get; }

    /// <summary>The macros of <paramref name="program"/> (a file of <see cref="Runtime.KernelSources"/>).</summary>
    public IReadOnlyList<KernelMacro> Macros(string program) =>
    [
        new("SVG2_HEAD_DIM", HeadDim), new("SVG2_ELEMENT_FP16", Element == ScalarType.Float16 ? 1 : 0),
        .. program switch
        {
            "kmeans.cu" => KMeansTraits.Macros,
            "kmeans_hopper.cu" => KMeansTraits.HopperMacros,
            "layout.cu" => CountingSortTraits.Macros,
            "selection.cu" => SelectionTraits.Macros,
            "attention.cu" => Attention.PortableMacros,
            "attention_hopper.cu" => SparseAttentionTraits.HopperMacros,
            "tail_pairs.cu" => SparseAttentionTraits.TailPairMacros,
            "attention_hopper_fp8.cu" => Fp8AttentionTraits.Macros,
            "transformer_block.cu" => TransformerBlockTraits.Macros,
            "probe.cu" => RoutingProbeTraits.Macros(HeadDim),
            _ => throw new ArgumentException($"No kernel traits describe the program {program}."),
        },
    ];

    /// <summary>The NVRTC options that define the macros of <paramref name="program"/>.</summary>
    public IReadOnlyList<string> CompileOptions(string program) => [.. Macros(program).Select(m => m.Option)];
}
