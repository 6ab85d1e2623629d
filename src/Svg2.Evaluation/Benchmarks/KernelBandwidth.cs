namespace Svg2.Evaluation.Benchmarks;

/// <summary>Mean time of one memory-bound kernel (or TorchSharp op chain) and the bandwidth it reaches.</summary>
/// <param name="Kernel">What ran: "svg2: ..." for a fused kernel, "torch: ..." for the equivalent TorchSharp ops.</param>
/// <param name="Milliseconds">Mean milliseconds per call.</param>
/// <param name="Bytes">
/// The operation's minimum traffic: bytes it must read and write once each (activations, float32
/// parameter rows, tables). The TorchSharp chains are charged the same bytes, so their rate is an
/// effective one, comparable with the fused kernel's.
/// </param>
/// <param name="GigabytesPerSecond"><paramref name="Bytes"/> / time, in 10^9 bytes per second.</param>
public sealed record KernelBandwidth(string Kernel, double Milliseconds, long Bytes, double GigabytesPerSecond);
