namespace Svg2.Cuda.Interop;

/// <summary>A status code of NVRTC (<c>nvrtcResult</c>).</summary>
public enum NvrtcResult
{
    /// <summary>The call succeeded.</summary>
    Success = 0,

    /// <summary>The program failed to compile; the log says why.</summary>
    CompilationFailed = 6,
}
