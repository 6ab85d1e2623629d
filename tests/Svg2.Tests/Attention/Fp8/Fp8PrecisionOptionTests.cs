using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Workloads;

namespace Svg2.Tests.Attention.Fp8;

/// <summary>FP8 precision on the operator: where it runs, what it changes, and what it refuses.</summary>
public class Fp8PrecisionOptionTests
{
    static readonly Svg2Options Small = new()
    {
        QueryClusters = 8, KeyClusters = 24, InitIterations = 5, StepIterations = 1, ScaleClusterCounts = false, TopP = 0.8,
    };

    static readonly Svg2Options Fp8 = Small with { Precision = AttentionPrecision.Fp8 };

    [Fact]
    public void TheOperatorSelectsAsInBf16AndAttendsWithinFp8sErrorOnTheReference()
    {
        using var sample = VideoLikeWorkload.Generate(new VideoShape(2, 6, 8, 2, 64), 3);
        using var plain = new Svg2Attention(Small).Forward(sample.Query, sample.Key, sample.Value, new Svg2LayerState());
        using var fp8 = new Svg2Attention(Fp8).Forward(sample.Query, sample.Key, sample.Value, new Svg2LayerState());
        Assert.True(TestTensors.Same(plain.Sparsity.BlockMask, fp8.Sparsity.BlockMask));
        double error = TestTensors.RelativeError(fp8.Output, plain.Output);
        // The video-like heads' outputs are coherent averages: FP8 stays near 1% of them (docs/quality.md).
        Assert.True(error is > 1e-3 and < 0.03, $"{error}");
    }

    [Fact]
    public void CompensationHasNoFp8Path()
    {
        var options = MethodCatalog.OptionsFor(MethodCatalog.Svg2Ear, Small) with { Precision = AttentionPrecision.Fp8 };
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("FP8", error.Message);
        Assert.Contains("compensation", error.Message);
    }

    [Fact]
    public void ABackendWithoutFp8KernelsIsRefusedNamingIt()
    {
        var error = Assert.Throws<NotSupportedException>(() => new Svg2Attention(Fp8, new ReferenceFusedBackend()));
        Assert.Contains("reference, fused backend has no FP8 attention kernels", error.Message);
        Assert.Contains("bf16 precision", error.Message);
        // In bf16 the same backend is taken.
        Assert.IsType<ReferenceFusedBackend>(new Svg2Attention(Small, new ReferenceFusedBackend()).Backend);
    }

    [Theory]
    [InlineData(7, 5, false)]
    [InlineData(8, 0, false)]
    [InlineData(8, 6, false)]
    [InlineData(8, 9, true)]
    [InlineData(9, 0, true)]
    [InlineData(10, 0, true)]
    public void Fp8NeedsTheTensorCoresOfAdaOrLater(int major, int minor, bool supported)
    {
        if (supported)
        {
            Fp8Support.RequireTensorCores(major, minor);
            return;
        }
        var error = Assert.Throws<NotSupportedException>(() => Fp8Support.RequireTensorCores(major, minor));
        Assert.Contains($"this GPU is {major}.{minor}", error.Message);
        Assert.Contains("8.9 or newer", error.Message);
    }

    [Theory]
    [InlineData(MethodCatalog.Blocks)]
    [InlineData(MethodCatalog.Blocks64)]
    [InlineData("window")]
    [InlineData("oracle")]
    [InlineData(MethodCatalog.Svg2Ear)]
    public void MethodsWithoutAnFp8PathAreRefused(string method)
    {
        var error = Assert.Throws<ArgumentException>(() => MethodCatalog.Create(method, Fp8, TokenGrid.Sequence(64)));
        Assert.Contains($"the {method} method attends in bf16 only", error.Message);
    }

    [Fact]
    public void DenseAndSvg2TakeThePrecision()
    {
        var dense = Assert.IsType<DenseMethod>(MethodCatalog.Create("dense", Fp8, TokenGrid.Sequence(64)));
        Assert.Equal(AttentionPrecision.Fp8, dense.Precision);
        var svg2 = Assert.IsType<Svg2Method>(MethodCatalog.Create(MethodCatalog.Svg2, Fp8, TokenGrid.Sequence(64)));
        Assert.Equal(AttentionPrecision.Fp8, svg2.Options.Precision);
    }
}
