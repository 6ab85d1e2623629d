using System.Runtime.InteropServices;

namespace Svg2.Cuda.Interop;

/// <summary>
/// The subset of the CUDA driver API this project calls, with blittable signatures. Handles are
/// opaque pointers; device addresses are 64-bit integers (<c>CUdeviceptr</c>).
/// </summary>
internal static unsafe partial class CudaDriver
{
    /// <summary>CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR.</summary>
    public const int AttributeComputeCapabilityMajor = 75;

    /// <summary>CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR.</summary>
    public const int AttributeComputeCapabilityMinor = 76;

    /// <summary>CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT.</summary>
    public const int AttributeMultiprocessorCount = 16;

    /// <summary>CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN.</summary>
    public const int AttributeMaxSharedMemoryPerBlockOptIn = 97;

    /// <summary>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.</summary>
    public const int FunctionAttributeMaxDynamicSharedBytes = 8;

    /// <summary>CU_STREAM_NON_BLOCKING: no implicit ordering with the legacy default stream.</summary>
    public const uint StreamNonBlocking = 1;

    /// <summary>CU_EVENT_DISABLE_TIMING: an event for ordering only, cheaper to record and wait on.</summary>
    public const uint EventDisableTiming = 2;

    /// <summary>CU_STREAM_CAPTURE_MODE_RELAXED.</summary>
    public const int CaptureModeRelaxed = 2;

    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuInit(uint flags);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuDriverGetVersion(int* version);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuDeviceGet(int* device, int ordinal);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuDeviceGetAttribute(int* value, int attribute, int device);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuDevicePrimaryCtxRetain(IntPtr* context, int device);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuCtxSetCurrent(IntPtr context);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuCtxSynchronize();
    [LibraryImport(NativeLibraryNames.Driver, EntryPoint = "cuMemGetInfo_v2")] public static partial CudaResult cuMemGetInfo(nuint* free, nuint* total);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuModuleLoadData(IntPtr* module, void* image);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuModuleGetFunction(IntPtr* function, IntPtr module, byte* name);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuFuncSetAttribute(IntPtr function, int attribute, int value);
    [LibraryImport(NativeLibraryNames.Driver)]
    public static partial CudaResult cuLaunchKernel(IntPtr function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, IntPtr stream, void** parameters, void** extra);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuEventCreate(IntPtr* cudaEvent, uint flags);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuEventRecord(IntPtr cudaEvent, IntPtr stream);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuEventSynchronize(IntPtr cudaEvent);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuEventElapsedTime(float* milliseconds, IntPtr start, IntPtr end);
    [LibraryImport(NativeLibraryNames.Driver, EntryPoint = "cuEventDestroy_v2")] public static partial CudaResult cuEventDestroy(IntPtr cudaEvent);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuStreamCreate(IntPtr* stream, uint flags);
    [LibraryImport(NativeLibraryNames.Driver, EntryPoint = "cuStreamDestroy_v2")] public static partial CudaResult cuStreamDestroy(IntPtr stream);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuStreamSynchronize(IntPtr stream);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuStreamWaitEvent(IntPtr stream, IntPtr cudaEvent, uint flags);
    [LibraryImport(NativeLibraryNames.Driver, EntryPoint = "cuStreamBeginCapture_v2")] public static partial CudaResult cuStreamBeginCapture(IntPtr stream, int mode);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuStreamEndCapture(IntPtr stream, IntPtr* graph);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuGraphInstantiateWithFlags(IntPtr* graphExec, IntPtr graph, ulong flags);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuGraphLaunch(IntPtr graphExec, IntPtr stream);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuGraphExecDestroy(IntPtr graphExec);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuGraphDestroy(IntPtr graph);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuGetErrorName(CudaResult error, byte** name);
    [LibraryImport(NativeLibraryNames.Driver)] public static partial CudaResult cuGetErrorString(CudaResult error, byte** text);

    /// <summary>"CUDA_ERROR_X (text) [code]" from the driver, or the number alone when the driver cannot say.</summary>
    public static string Describe(CudaResult result)
    {
        try
        {
            byte* name = null, text = null;
            cuGetErrorName(result, &name);
            cuGetErrorString(result, &text);
            var nameText = name == null ? result.ToString() : Marshal.PtrToStringUTF8((IntPtr)name);
            var detail = text == null ? "" : $" ({Marshal.PtrToStringUTF8((IntPtr)text)})";
            return $"{nameText}{detail} [code {(int)result}]";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or CudaException)
        {
            return $"{result} [code {(int)result}]";
        }
    }
}
