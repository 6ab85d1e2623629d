namespace Svg2.Attention.Fp8;

/// <summary>Where FP8 attention can run: the hardware it needs and what is not there yet.</summary>
public static class Fp8Support
{
    /// <summary>The first compute capability with FP8 tensor cores (Ada Lovelace, sm_89; Hopper is sm_90).</summary>
    public static (int Major, int Minor) MinimumComputeCapability { get; } = (8, 9);

    /// <summary>
    /// Throws <see cref="NotSupportedException"/> when a GPU of compute capability
    /// <paramref name="major"/>.<paramref name="minor"/> has no FP8 tensor cores.
    /// </summary>
    public static void RequireTensorCores(int major, int minor)
    {
        var (minMajor, minMinor) = MinimumComputeCapability;
        if (major > minMajor || (major == minMajor && minor >= minMinor)) return;
        throw new NotSupportedException($"FP8 attention needs FP8 tensor cores (compute capability {minMajor}.{minMinor} or newer: Ada, Hopper); " +
            $"this GPU is {major}.{minor}. Use bf16 precision.");
    }

    /// <summary>The error of a backend that has no FP8 attention kernels.</summary>
    public static NotSupportedException NoKernels(string backend) =>
        new($"The {backend} backend has no FP8 attention kernels yet. Use bf16 precision on it, or the reference backend, " +
            "which emulates FP8 attention exactly in TorchSharp operations (on the CPU: --device cpu).");
}
