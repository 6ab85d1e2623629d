using Svg2.Models.Profiling;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>
/// Recognises a GPU allocation failure (libtorch's "CUDA out of memory" error, or the driver's
/// CUDA_ERROR_OUT_OF_MEMORY from the project's kernels) and says it in one line: the allocation that
/// failed as libtorch named it, the device memory free now, and the options that lower the need.
/// </summary>
internal static class OutOfMemoryMessage
{
    const string Hint = "Lower it with a smaller --size, fewer --frames or --layers, a smaller shape, or fewer clusters (--qc/--kc); " +
                        "generate can also keep the text encoder on the CPU (--t5-cpu).";

    public static bool Matches(Exception error) =>
        error.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
        || error.Message.Contains("CUDA_ERROR_OUT_OF_MEMORY", StringComparison.Ordinal);

    public static string Describe(Exception error)
    {
        // libtorch's message starts with the allocation ("Tried to allocate 12.00 GiB ...") and goes on for lines.
        string first = error.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? error.Message;
        string free = "";
        if (cuda.is_available())
        {
            // The failed allocation is gone; what libtorch cached for reuse is returned to the driver first.
            long freeBytes = DeviceMemory.FreeBytes(CUDA);
            if (freeBytes >= 0) free = $" {freeBytes / (double)(1L << 30):F2} GiB of device memory are free now.";
        }
        return $"the GPU ran out of memory: {first}.{free} {Hint}";
    }
}
