using Svg2.Cuda.Interop;

namespace Svg2.Cuda.Runtime;

/// <summary>
/// A second stream that independent work forks onto from a caller's stream and joins back from, so
/// that two chains of small kernels overlap instead of running back to back. Fork and join are event
/// record/wait pairs: they order the work on the legacy default stream as on a created one, and a
/// stream being captured into a CUDA graph becomes two parallel branches of the graph.
/// </summary>
/// <remarks>
/// Memory the side branch reads must stay allocated until <see cref="Join"/> is enqueued: the caching
/// allocator reuses a freed block for work on the caller's stream, which is ordered after the join only.
/// </remarks>
public sealed unsafe class CudaStreamFork : IDisposable
{
    IntPtr _side, _forked, _joined;

    /// <summary>Creates the side stream (non-blocking, so it never waits on the legacy stream implicitly) and its two events.</summary>
    public CudaStreamFork(CudaDevice device)
    {
        device.MakeCurrent();
        IntPtr side, forked, joined;
        CudaException.ThrowIfFailed(CudaDriver.cuStreamCreate(&side, CudaDriver.StreamNonBlocking), "cuStreamCreate");
        _side = side;
        CudaException.ThrowIfFailed(CudaDriver.cuEventCreate(&forked, CudaDriver.EventDisableTiming), "cuEventCreate");
        _forked = forked;
        CudaException.ThrowIfFailed(CudaDriver.cuEventCreate(&joined, CudaDriver.EventDisableTiming), "cuEventCreate");
        _joined = joined;
    }

    /// <summary>Makes the side stream wait for everything enqueued on <paramref name="stream"/> so far, and returns it.</summary>
    public IntPtr Fork(IntPtr stream)
    {
        CudaException.ThrowIfFailed(CudaDriver.cuEventRecord(_forked, stream), "cuEventRecord");
        CudaException.ThrowIfFailed(CudaDriver.cuStreamWaitEvent(_side, _forked, 0), "cuStreamWaitEvent");
        return _side;
    }

    /// <summary>Makes <paramref name="stream"/> wait for everything enqueued on the side stream so far.</summary>
    public void Join(IntPtr stream)
    {
        CudaException.ThrowIfFailed(CudaDriver.cuEventRecord(_joined, _side), "cuEventRecord");
        CudaException.ThrowIfFailed(CudaDriver.cuStreamWaitEvent(stream, _joined, 0), "cuStreamWaitEvent");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_joined != IntPtr.Zero) CudaDriver.cuEventDestroy(_joined);
        if (_forked != IntPtr.Zero) CudaDriver.cuEventDestroy(_forked);
        if (_side != IntPtr.Zero) CudaDriver.cuStreamDestroy(_side);
        _joined = _forked = _side = IntPtr.Zero;
    }
}
