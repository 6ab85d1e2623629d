using Svg2.Attention;
using Svg2.Configuration;
using Svg2.Cuda;
using Svg2.Evaluation.Verification;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>
/// The <c>svg2 verify</c> check of a GPU allocation failure through the real code path: an operator call
/// on inputs far beyond any card must fail with <see cref="OutOfMemoryMessage"/>'s one line (the form
/// every command prints), and a normal call right after must succeed, so the process stays usable.
/// </summary>
internal static class OutOfMemoryCheck
{
    // 40 heads x 2^27 tokens x 128 bf16 elements: 1.25 TiB per tensor once the operator makes it
    // contiguous. The inputs are broadcast views of one row, so they take no memory before that.
    const int Heads = 40, Dim = 128;
    const long HugeTokens = 1L << 27;

    public static ConformanceResult Run(int ordinal, int seed) =>
        CudaConformance.Run("out of GPU memory: one-line error, then a normal call succeeds", () => FailsCleanlyThenRecovers(torch.device(DeviceType.CUDA, ordinal), seed));

    static (bool Passed, string Detail) FailsCleanlyThenRecovers(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var backend = new CudaBackend();
        var attention = new Svg2Attention(new Svg2Options { QueryClusters = 32, KeyClusters = 128 }, backend);
        string? message = null;
        using (var state = new Svg2LayerState())
        {
            var huge = randn([1, 1, 1, Dim]).to(ScalarType.BFloat16).to(device).expand(1, Heads, HugeTokens, Dim);
            try
            {
                attention.Forward(huge, huge, huge, state).Dispose();
                return (false, "a call on 1.25 TiB inputs did not fail");
            }
            catch (Exception error) when (OutOfMemoryMessage.Matches(error))
            {
                message = OutOfMemoryMessage.Describe(error);
            }
        }
        bool oneLine = !message.Contains('\n') && message.StartsWith("the GPU ran out of memory: ", StringComparison.Ordinal);

        using var generator = new Generator((ulong)seed);
        Tensor Small() => randn([1, 2, 2048, Dim], generator: generator).to(ScalarType.BFloat16).to(device);
        var (q, k, v) = (Small(), Small(), Small());
        using var smallState = new Svg2LayerState();
        using var result = attention.Forward(q, k, v, smallState);
        long nonFinite = result.Output.isfinite().logical_not().sum().item<long>();
        bool passed = oneLine && nonFinite == 0;
        return (passed, $"message{(oneLine ? "" : " NOT one line")}: \"{message}\"; the call after it: {nonFinite} non-finite output elements, " +
                        $"density {result.Density.mean().item<double>():P1}");
    }
}
