using System.Runtime.InteropServices;

namespace Svg2.Cuda.Interop;

/// <summary>The one TorchSharp native export needed: a tensor's data address (storage offset included).</summary>
internal static partial class TorchSharpNative
{
    [LibraryImport(NativeLibraryNames.TorchSharp)] public static partial IntPtr THSTensor_data(IntPtr tensor);
}
