using Svg2.Algorithm;
using Svg2.Cuda;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Tests.Cuda;

/// <summary>Validation that runs before any CUDA call, so it is checked on machines without a GPU.</summary>
public class CudaArgumentValidationTests
{
    [Fact]
    public void CpuTensorIsRejectedNamingTheDevice()
    {
        using var points = randn(2, 64, 128).to(ScalarType.BFloat16);
        using var centroids = randn(2, 8, 128).to(ScalarType.BFloat16);
        var error = Assert.Throws<ArgumentException>(() => new CudaBackend().KMeans(points, centroids, 1));
        Assert.Contains("CUDA device", error.Message);
        Assert.Contains("cpu", error.Message);
    }

    [Fact]
    public void HeadDimension96IsRejectedBeforeTheDevice()
    {
        using var points = randn(1, 32, 96).to(ScalarType.BFloat16);
        using var centroids = randn(1, 4, 96).to(ScalarType.BFloat16);
        var error = Assert.Throws<ArgumentException>(() => new CudaBackend().KMeans(points, centroids, 1));
        Assert.Contains("head dimension 96", error.Message);
    }

    [Fact]
    public void Float32IsRejectedNamingTheDtype()
    {
        using var points = randn(1, 32, 128);
        var error = Assert.Throws<ArgumentException>(() => TensorChecks.RequirePoints(points, "q"));
        Assert.Contains("Float32", error.Message);
        Assert.Contains("q", error.Message);
    }

    [Fact]
    public void SupportsExplainsWhyNot()
    {
        using var q = randn(1, 32, 128).to(ScalarType.BFloat16);
        Assert.False(new CudaBackend().Supports(q, q, q, out var reason));
        Assert.Contains("not a CUDA device", reason);
        using var odd = randn(1, 32, 80).to(ScalarType.Float16);
        Assert.False(new CudaBackend().Supports(odd, odd, odd, out var oddReason));
        Assert.Contains("not a CUDA device", oddReason);
    }

    [Fact]
    public void MissingLayoutShapeIsNamed()
    {
        using var labels = zeros(2, 10, ScalarType.Int64);
        var error = Assert.Throws<ArgumentException>(() => TensorChecks.RequireShape(labels, "queryLayout.Permutation", 2, 12));
        Assert.Contains("[2, 12]", error.Message);
        Assert.Contains("[2, 10]", error.Message);
    }

    [Fact]
    public void MaxTilesBoundsEveryPartition()
    {
        var random = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int clusters = random.Next(1, 50);
            var sizes = Enumerable.Range(0, clusters).Select(_ => random.Next(0, 300)).ToArray();
            int tokens = sizes.Sum();
            foreach (int rows in new[] { SparseAttentionTraits.PortableTileRows, SparseAttentionTraits.HopperTileRows })
            {
                int tiles = sizes.Sum(s => (s + rows - 1) / rows);
                Assert.True(tiles <= SparseAttentionKernels.MaxTiles(tokens, clusters, rows));
            }
        }
    }

    [Fact]
    public void EveryKernelSourceIsEmbedded()
    {
        var programs = KernelSources.ProgramsFor(KernelFamily.Hopper);
        Assert.Equal(KernelSources.Programs.Count + KernelSources.HopperPrograms.Count, programs.Count);
        foreach (var file in programs.Concat(KernelSources.Headers))
            Assert.Contains("svg2", KernelSources.Read(file), StringComparison.OrdinalIgnoreCase);
        foreach (var program in programs)
            foreach (var kernel in KernelLibrary.KernelNames(program))
                Assert.Contains($"{kernel}(", KernelSources.Read(program));
    }

    [Theory]
    [InlineData("sm_90a", null, KernelFamily.Hopper)]
    [InlineData("sm_90a", "auto", KernelFamily.Hopper)]
    [InlineData("sm_90a", " Portable ", KernelFamily.Portable)]
    [InlineData("sm_90a", "hopper", KernelFamily.Hopper)]
    [InlineData("sm_80", null, KernelFamily.Portable)]
    [InlineData("sm_89", "", KernelFamily.Portable)]
    [InlineData("sm_100", "auto", KernelFamily.Portable)]
    public void KernelFamilyFollowsTheArchitectureAndSetting(string architecture, string? setting, KernelFamily expected) =>
        Assert.Equal(expected, KernelFamilyChoice.For(architecture, setting));

    [Theory]
    [InlineData("sm_80", "hopper", "needs a Hopper GPU")]
    [InlineData("sm_90a", "fast", "must be auto, portable or hopper")]
    public void KernelFamilySettingErrorsNameTheProblem(string architecture, string setting, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => KernelFamilyChoice.For(architecture, setting));
        Assert.Contains(message, error.Message);
        Assert.Contains(KernelFamilyChoice.Setting, error.Message);
    }

    [Fact]
    public void SelectionRuleMinimumMatchesTheSpecification() =>
        Assert.Equal(100, new SelectionRule(0.9, 0.1).MinimumKept(1000));
}
