using System.Runtime.InteropServices;

namespace Svg2.Cuda.Interop;

/// <summary>The NVRTC calls this project needs, with blittable signatures.</summary>
internal static unsafe partial class Nvrtc
{
    [LibraryImport(NativeLibraryNames.Nvrtc)] public static partial NvrtcResult nvrtcVersion(int* major, int* minor);
    [LibraryImport(NativeLibraryNames.Nvrtc)]
    public static partial NvrtcResult nvrtcCreateProgram(IntPtr* program, byte* source, byte* name, int headerCount, byte** headers, byte** includeNames);
    [LibraryImport(NativeLibraryNames.Nvrtc)] public static partial NvrtcResult nvrtcCompileProgram(IntPtr program, int optionCount, byte** options);
    [LibraryImport(NativeLibraryNames.Nvrtc)] public static partial NvrtcResult nvrtcGetProgramLogSize(IntPtr program, nuint* size);
    [LibraryImport(NativeLibraryNames.Nvrtc)] public static partial NvrtcResult nvrtcGetProgramLog(IntPtr program, byte* log);
    [LibraryImport(NativeLibraryNames.Nvrtc)] public static partial NvrtcResult nvrtcGetCUBINSize(IntPtr program, nuint* size);
    [LibraryImport(NativeLibraryNames.Nvrtc)] public static partial NvrtcResult nvrtcGetCUBIN(IntPtr program, byte* cubin);
    [LibraryImport(NativeLibraryNames.Nvrtc)] public static partial NvrtcResult nvrtcDestroyProgram(IntPtr* program);
    [LibraryImport(NativeLibraryNames.Nvrtc)] public static partial IntPtr nvrtcGetErrorString(NvrtcResult result);

    /// <summary>Throws a <see cref="CudaException"/> naming the call when NVRTC reports an error.</summary>
    public static void ThrowIfFailed(NvrtcResult result, string call)
    {
        if (result != NvrtcResult.Success)
            throw new CudaException($"{call} failed: {Marshal.PtrToStringUTF8(nvrtcGetErrorString(result))} [code {(int)result}]");
    }
}
