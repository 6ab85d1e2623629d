using System.Collections.Concurrent;
using System.Text;
using Svg2.Cuda.Interop;

namespace Svg2.Cuda.Runtime;

/// <summary>
/// One GPU as the driver API sees it, with its primary context: the context libtorch uses, so device
/// memory of TorchSharp tensors is valid in kernels launched here.
/// </summary>
public sealed unsafe class CudaDevice
{
    static readonly ConcurrentDictionary<int, CudaDevice> Devices = new();
    static readonly Lazy<int> DriverVersionValue = new(InitializeDriver);

    readonly IntPtr _context;

    CudaDevice(int ordinal)
    {
        _ = DriverVersionValue.Value;
        int device, major, minor, multiprocessors, sharedPerBlock;
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGet(&device, ordinal), $"cuDeviceGet({ordinal})");
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGetAttribute(&major, CudaDriver.AttributeComputeCapabilityMajor, device), "cuDeviceGetAttribute(major)");
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGetAttribute(&minor, CudaDriver.AttributeComputeCapabilityMinor, device), "cuDeviceGetAttribute(minor)");
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGetAttribute(&multiprocessors, CudaDriver.AttributeMultiprocessorCount, device), "cuDeviceGetAttribute(multiprocessors)");
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGetAttribute(&sharedPerBlock, CudaDriver.AttributeMaxSharedMemoryPerBlockOptIn, device), "cuDeviceGetAttribute(max shared memory per block)");
        var name = stackalloc byte[256];
        CudaException.ThrowIfFailed(CudaDriver.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        IntPtr context;
        CudaException.ThrowIfFailed(CudaDriver.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
        _context = context;
        Ordinal = ordinal;
        Name = Encoding.UTF8.GetString(new ReadOnlySpan<byte>(name, 256).TrimEnd((byte)0));
        ComputeCapability = (major, minor);
        Multiprocessors = multiprocessors;
        MaxSharedBytesPerBlock = sharedPerBlock;
    }

    /// <summary>The device for a CUDA ordinal (as in <c>cuda:0</c>), created once per process.</summary>
    public static CudaDevice Get(int ordinal) => Devices.GetOrAdd(ordinal, o => new CudaDevice(o));

    /// <summary>
    /// Whether a CUDA driver and at least one device are usable. NVRTC is not checked here; callers
    /// that compile kernels use <see cref="CudaToolchain.IsAvailable"/>.
    /// </summary>
    public static bool IsAvailable(out string? reason)
    {
        try
        {
            _ = DriverVersionValue.Value;
            int device;
            CudaException.ThrowIfFailed(CudaDriver.cuDeviceGet(&device, 0), "cuDeviceGet(0)");
            reason = null;
            return true;
        }
        catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            reason = e.Message;
            return false;
        }
    }

    /// <summary>The driver's CUDA version as an integer (13000 = 13.0).</summary>
    public static int DriverVersion => DriverVersionValue.Value;

    /// <summary>CUDA ordinal.</summary>
    public int Ordinal { get; }

    /// <summary>Product name, e.g. "NVIDIA H100 80GB HBM3".</summary>
    public string Name { get; }

    /// <summary>Compute capability (major, minor), e.g. (9, 0).</summary>
    public (int Major, int Minor) ComputeCapability { get; }

    /// <summary>Number of streaming multiprocessors.</summary>
    public int Multiprocessors { get; }

    /// <summary>The most shared memory one block may use after opting in (227 KiB on Hopper).</summary>
    public int MaxSharedBytesPerBlock { get; }

    /// <summary>
    /// The NVRTC target: the architecture-specific <c>sm_90a</c> on Hopper (needed for its newest
    /// instructions), plain <c>sm_XY</c> elsewhere.
    /// </summary>
    public string Architecture => GpuArchitecture(ComputeCapability.Major, ComputeCapability.Minor);

    /// <summary>The NVRTC architecture name for a compute capability.</summary>
    public static string GpuArchitecture(int major, int minor) => major == 9 && minor == 0 ? "sm_90a" : $"sm_{major}{minor}";

    /// <summary>Makes this device's primary context current on the calling thread.</summary>
    public void MakeCurrent() => CudaException.ThrowIfFailed(CudaDriver.cuCtxSetCurrent(_context), "cuCtxSetCurrent");

    /// <summary>Waits for all work on the device (for timing and tests only, never on the hot path).</summary>
    public void Synchronize()
    {
        MakeCurrent();
        CudaException.ThrowIfFailed(CudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    /// <summary>
    /// Free and total device memory as the driver reports them for the whole GPU: memory of other
    /// processes, and blocks that libtorch's caching allocator keeps reserved, count as used.
    /// </summary>
    public (long FreeBytes, long TotalBytes) MemoryInfo()
    {
        MakeCurrent();
        nuint free, total;
        CudaException.ThrowIfFailed(CudaDriver.cuMemGetInfo(&free, &total), "cuMemGetInfo");
        return ((long)free, (long)total);
    }

    static int InitializeDriver()
    {
        NativeLibraryNames.EnsureDriver();
        CudaException.ThrowIfFailed(CudaDriver.cuInit(0), "cuInit");
        int version;
        CudaException.ThrowIfFailed(CudaDriver.cuDriverGetVersion(&version), "cuDriverGetVersion");
        return version;
    }
}
