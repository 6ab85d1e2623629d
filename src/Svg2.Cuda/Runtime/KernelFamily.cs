namespace Svg2.Cuda.Runtime;

/// <summary>
/// Which implementation of the two compute-heavy kernels (k-means assignment and sparse attention)
/// a library uses. Both compute the same result; everything else is shared.
/// </summary>
public enum KernelFamily
{
    /// <summary>mma.sync tensor-core kernels that run on every supported GPU (sm_80 and newer).</summary>
    Portable,

    /// <summary>Hopper warpgroup MMA (wgmma) kernels, for sm_90a.</summary>
    Hopper,
}

/// <summary>Chooses the kernel family for a device, honouring the SVG2_CUDA_KERNELS setting.</summary>
public static class KernelFamilyChoice
{
    /// <summary>Environment variable: <c>auto</c> (default), <c>portable</c> or <c>hopper</c>.</summary>
    public const string Setting = "SVG2_CUDA_KERNELS";

    /// <summary>The family for an NVRTC architecture such as <c>sm_90a</c> and a setting value (null = auto).</summary>
    public static KernelFamily For(string architecture, string? setting)
    {
        bool hopper = architecture == "sm_90a";
        switch (string.IsNullOrWhiteSpace(setting) ? "auto" : setting.Trim().ToLowerInvariant())
        {
            case "auto": return hopper ? KernelFamily.Hopper : KernelFamily.Portable;
            case "portable": return KernelFamily.Portable;
            case "hopper":
                if (!hopper) throw new ArgumentException($"{Setting}=hopper needs a Hopper GPU (sm_90a); this device is {architecture}.");
                return KernelFamily.Hopper;
            default:
                throw new ArgumentException($"{Setting} must be auto, portable or hopper; got '{setting}'.");
        }
    }
}
