namespace Svg2.Cuda.Interop;

/// <summary>A failed CUDA driver, NVRTC or library-loading step; the message names the call and the cause.</summary>
public sealed class CudaException : Exception
{
    /// <summary>Creates an exception with a complete message.</summary>
    public CudaException(string message) : base(message) { }

    /// <summary>The driver status of the failed call, when one exists.</summary>
    public CudaResult? Result { get; init; }

    /// <summary>Throws when <paramref name="result"/> is not <see cref="CudaResult.Success"/>.</summary>
    /// <param name="result">The status returned by the driver.</param>
    /// <param name="call">The driver function that returned it, for the message.</param>
    public static void ThrowIfFailed(CudaResult result, string call)
    {
        if (result != CudaResult.Success)
            throw new CudaException($"{call} failed: {CudaDriver.Describe(result)}") { Result = result };
    }
}
