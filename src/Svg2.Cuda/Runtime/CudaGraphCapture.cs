using Svg2.Cuda.Interop;

namespace Svg2.Cuda.Runtime;

/// <summary>
/// Captures a sequence of kernel launches on a created (non-blocking) stream into a CUDA graph and
/// replays it. Work enqueued by libtorch is not captured: TorchSharp offers no stream control.
/// </summary>
public sealed unsafe class CudaGraphCapture : IDisposable
{
    IntPtr _stream, _graph, _executable;

    /// <summary>Captures whatever <paramref name="enqueue"/> launches on the stream it is given.</summary>
    public CudaGraphCapture(CudaDevice device, Action<IntPtr> enqueue)
    {
        device.MakeCurrent();
        IntPtr stream, graph, executable;
        CudaException.ThrowIfFailed(CudaDriver.cuStreamCreate(&stream, CudaDriver.StreamNonBlocking), "cuStreamCreate");
        _stream = stream;
        CudaException.ThrowIfFailed(CudaDriver.cuStreamBeginCapture(stream, CudaDriver.CaptureModeRelaxed), "cuStreamBeginCapture");
        try
        {
            enqueue(stream);
        }
        finally
        {
            var ended = CudaDriver.cuStreamEndCapture(stream, &graph);
            _graph = graph;
            CudaException.ThrowIfFailed(ended, "cuStreamEndCapture");
        }
        CudaException.ThrowIfFailed(CudaDriver.cuGraphInstantiateWithFlags(&executable, graph, 0), "cuGraphInstantiateWithFlags");
        _executable = executable;
    }

    /// <summary>Replays the graph and waits for it.</summary>
    public void LaunchAndWait()
    {
        CudaException.ThrowIfFailed(CudaDriver.cuGraphLaunch(_executable, _stream), "cuGraphLaunch");
        CudaException.ThrowIfFailed(CudaDriver.cuStreamSynchronize(_stream), "cuStreamSynchronize");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_executable != IntPtr.Zero) CudaDriver.cuGraphExecDestroy(_executable);
        if (_graph != IntPtr.Zero) CudaDriver.cuGraphDestroy(_graph);
        if (_stream != IntPtr.Zero) CudaDriver.cuStreamDestroy(_stream);
        _executable = _graph = _stream = IntPtr.Zero;
    }
}
