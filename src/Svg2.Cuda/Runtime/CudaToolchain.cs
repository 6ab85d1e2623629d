using Svg2.Cuda.Interop;

namespace Svg2.Cuda.Runtime;

/// <summary>
/// Whether the CUDA kernels can run at all: the driver with a device, and NVRTC to compile them.
/// </summary>
/// <remarks>
/// The driver alone is not enough: a machine with an NVIDIA driver but no CUDA toolkit (nor a PyTorch
/// install bundling NVRTC) would pass a driver-only check and then fail on the first kernel compile.
/// The check loads NVRTC and asks its version, compiling nothing, and its answer is cached for the
/// process (library loading is cached anyway, so a later answer could not differ).
/// </remarks>
public static class CudaToolchain
{
    static readonly Lazy<string?> Missing = new(() => Probe(DriverProblem, () => _ = KernelCompiler.NvrtcVersion));

    /// <summary>True when the driver, a device and NVRTC are usable; otherwise false with the reason,
    /// which names the missing library and, for NVRTC, every folder searched.</summary>
    public static bool IsAvailable(out string? reason)
    {
        reason = Missing.Value;
        return reason is null;
    }

    /// <summary>The check behind <see cref="IsAvailable"/>, with injectable probes (for tests).</summary>
    /// <param name="driverProblem">Why the driver or device is unusable, or null when it is usable.</param>
    /// <param name="loadNvrtc">Loads NVRTC and queries it; throws when it is missing.</param>
    /// <returns>Null when everything is usable, else the reason.</returns>
    internal static string? Probe(Func<string?> driverProblem, Action loadNvrtc)
    {
        if (driverProblem() is { } problem) return problem;
        try
        {
            loadNvrtc();
            return null;
        }
        catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            return $"the CUDA driver is present but the kernels cannot be compiled: {e.Message}";
        }
    }

    static string? DriverProblem() => CudaDevice.IsAvailable(out var reason) ? null : reason ?? "no CUDA device";
}
