using System.Reflection;

namespace Svg2.Cuda.Runtime;

/// <summary>The CUDA sources shipped inside this assembly as embedded resources (Svg2.Cuda.Kernels.&lt;file&gt;).</summary>
public static class KernelSources
{
    const string Prefix = "Svg2.Cuda.Kernels.";

    /// <summary>Translation units (.cu), one per kernel family.</summary>
    public static readonly IReadOnlyList<string> Programs = ["kmeans.cu", "layout.cu", "selection.cu", "attention.cu", "transformer_block.cu", "probe.cu"];

    /// <summary>Translation units compiled only for Hopper (sm_90a).</summary>
    public static readonly IReadOnlyList<string> HopperPrograms = ["kmeans_hopper.cu", "attention_hopper.cu", "attention_hopper_fp8.cu", "tail_pairs.cu"];

    /// <summary>Headers every program may include.</summary>
    public static readonly IReadOnlyList<string> Headers = ["common.cuh", "nearest_centroid.cuh", "segment_means.cuh", "key_ranges.cuh", "compensation.cuh", "hopper.cuh", "attention_hopper.cuh", "fp8.cuh"];

    /// <summary>The programs a library of the given family compiles.</summary>
    public static IReadOnlyList<string> ProgramsFor(KernelFamily family) => family == KernelFamily.Hopper ? [.. Programs, .. HopperPrograms] : Programs;

    /// <summary>The text of one embedded kernel file.</summary>
    public static string Read(string file)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(Prefix + file)
            ?? throw new InvalidOperationException($"Kernel source {file} is not embedded in {Assembly.GetExecutingAssembly().GetName().Name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
