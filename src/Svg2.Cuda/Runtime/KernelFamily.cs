namespace Svg2.Cuda.Runtime;

/// <summary>
/// Which implementations of the sparse attention and the k-means assignment a library uses. Both
/// families compute the same result; every other kernel is shared.
/// </summary>
public enum KernelFamily
{
    /// <summary>The mma.sync tensor-core kernel that runs on every supported GPU (sm_80 and newer).</summary>
    Portable,

    /// <summary>The Hopper warpgroup MMA (wgmma), warp-specialised kernels, for sm_90a.</summary>
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
