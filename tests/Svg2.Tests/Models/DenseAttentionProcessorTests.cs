using Svg2.Attention.Fp8;
using Svg2.Backends;
using Svg2.Configuration;
using Svg2.Models.Attention;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Tests.Models;

/// <summary>The model's dense attention in each precision, and in FP8 through a backend's kernels or the emulation.</summary>
public class DenseAttentionProcessorTests
{
    static AttentionCall Call(int seed)
    {
        var q = TestTensors.Normal(seed, [2, 3, 160, 64]);
        var k = TestTensors.Normal(seed + 1, [2, 3, 160, 64]) + TestTensors.Normal(seed + 2, [2, 3, 1, 64]);
        return new AttentionCall(0, 0, 0, 2, q, k, TestTensors.Normal(seed + 3, [2, 3, 160, 64]), new LatentGrid(1, 10, 16));
    }

    [Fact]
    public void Fp8ThroughABackendIsTheEmulation()
    {
        var call = Call(5);
        using var emulated = new DenseAttentionProcessor(AttentionPrecision.Fp8).Process(call);
        using var throughBackend = new DenseAttentionProcessor(AttentionPrecision.Fp8, fp8Backend: ReferenceBackend.Instance).Process(call);
        Assert.Equal(call.Query.shape, throughBackend.shape);
        Assert.True(TestTensors.Same(emulated, throughBackend));
    }

    [Fact]
    public void Fp8IsWithinItsRoundingOfTheInputsPrecisionAndBf16IgnoresTheBackend()
    {
        var call = Call(9);
        using var exact = new DenseAttentionProcessor().Process(call);
        using var withBackend = new DenseAttentionProcessor(fp8Backend: ReferenceBackend.Instance).Process(call);
        using var fp8 = new DenseAttentionProcessor(AttentionPrecision.Fp8, Fp8AttentionSettings.Default, ReferenceBackend.Instance).Process(call);
        Assert.True(TestTensors.Same(exact, withBackend));
        double error = ((fp8 - exact).norm() / exact.norm()).item<float>();
        // E4M3's 3 mantissa bits on random inputs: a few percent, never 0 (FP8 did run).
        Assert.InRange(error, 1e-3, 0.08);
    }
}
