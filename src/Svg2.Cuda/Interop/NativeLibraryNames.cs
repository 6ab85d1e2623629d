using System.Runtime.InteropServices;

namespace Svg2.Cuda.Interop;

/// <summary>
/// Logical library names of the imports, resolved at run time by <see cref="NativeLibraryLocator"/>
/// (NVRTC lives in version-specific folders that the default probing never visits).
/// </summary>
internal static class NativeLibraryNames
{
    public const string Driver = "svg2-cuda-driver";
    public const string Nvrtc = "svg2-nvrtc";
    public const string TorchSharp = "LibTorchSharp";

    static readonly Lazy<IntPtr> DriverHandle = new(NativeLibraryLocator.LoadDriver);
    static readonly Lazy<IntPtr> NvrtcHandle = new(NativeLibraryLocator.LoadNvrtc);

    /// <summary>Loads the driver now, throwing a descriptive <see cref="CudaException"/> when it is missing.</summary>
    public static void EnsureDriver() => _ = DriverHandle.Value;

    /// <summary>Loads NVRTC now, throwing a descriptive <see cref="CudaException"/> when it is missing.</summary>
    public static void EnsureNvrtc() => _ = NvrtcHandle.Value;

    // Registered before any import of this assembly can run: every import goes through EnsureDriver
    // or EnsureNvrtc first, which runs this static constructor.
    static NativeLibraryNames() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryNames).Assembly, (name, _, _) => name switch
        {
            Driver => DriverHandle.Value,
            Nvrtc => NvrtcHandle.Value,
            _ => IntPtr.Zero,
        });
}
