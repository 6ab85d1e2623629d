using Svg2.Cuda.Interop;

namespace Svg2.Cuda.Runtime;

/// <summary>A CUDA event for timing work on a stream.</summary>
public sealed unsafe class CudaEvent : IDisposable
{
    IntPtr _handle;

    /// <summary>Creates an event on the current context of <paramref name="device"/>.</summary>
    public CudaEvent(CudaDevice device)
    {
        device.MakeCurrent();
        IntPtr handle;
        CudaException.ThrowIfFailed(CudaDriver.cuEventCreate(&handle, 0), "cuEventCreate");
        _handle = handle;
    }

    /// <summary>Records the event on a stream (0 = legacy default stream).</summary>
    public void Record(IntPtr stream = default) => CudaException.ThrowIfFailed(CudaDriver.cuEventRecord(_handle, stream), "cuEventRecord");

    /// <summary>Milliseconds between two recorded events, waiting for the later one.</summary>
    public static float Elapsed(CudaEvent start, CudaEvent end)
    {
        CudaException.ThrowIfFailed(CudaDriver.cuEventSynchronize(end._handle), "cuEventSynchronize");
        float milliseconds;
        CudaException.ThrowIfFailed(CudaDriver.cuEventElapsedTime(&milliseconds, start._handle, end._handle), "cuEventElapsedTime");
        return milliseconds;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_handle != IntPtr.Zero) CudaDriver.cuEventDestroy(_handle);
        _handle = IntPtr.Zero;
    }
}
