using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using Svg2.Cuda.Traits;
using Svg2.Evaluation.Verification;
using TorchSharp;

namespace Svg2.Tests.Cuda;

/// <summary>The host side of the routing probe kernels (probe.cu), and their GPU checks where a GPU is present.</summary>
public class RoutingProbeKernelTests
{
    [Fact]
    public void TheProgramIsRegisteredWithItsKernels()
    {
        Assert.Contains("probe.cu", KernelSources.Programs);
        var source = KernelSources.Read("probe.cu");
        foreach (var kernel in KernelLibrary.KernelNames("probe.cu"))
            Assert.Contains($"{kernel}(", source);
    }

    [Theory]
    [InlineData(128, 1000)]
    [InlineData(64, 17)]
    public void SharedMemoryHoldsTheTilesDescriptorsAndOffsets(int headDim, int keyClusters)
    {
        // Query tile 64 rows, key and value tiles 64 rows each, 8 centroid rows; 2 x 4 chunk descriptors of 5 ints,
        // 2 counts and the 2-int range; the offsets as int32.
        int expected = (64 + 2 * 64 + 8) * headDim * 2 + (2 * 4 * 5 + 2 + 2) * 4 + (keyClusters + 1) * 4;
        Assert.Equal(expected, RoutingProbeTraits.SharedBytes(headDim, keyClusters, pipelined: false));
    }

    [Theory]
    [InlineData(128, 1000)]
    [InlineData(64, 17)]
    public void PipelinedSharedMemoryHoldsTwoStages(int headDim, int keyClusters)
    {
        // Query tile 64 rows; two stages of 64 key and 64 value rows, 8 centroid rows and 4 float32 mean rows;
        // 3 x 4 chunk descriptors of 5 ints, the counts and the range padded to 4 ints each; the offsets as int32.
        int expected = (64 + 2 * (2 * 64 + 8)) * headDim * 2 + 2 * 4 * headDim * 4 + (3 * 4 * 5 + 4 + 4) * 4 + (keyClusters + 1) * 4;
        Assert.Equal(expected, RoutingProbeTraits.SharedBytes(headDim, keyClusters, pipelined: true));
        Assert.True(2 * expected <= 227 * 1024, "two blocks fit an H100 multiprocessor");
    }

    [Theory]
    [InlineData(128, 65_536)]
    [InlineData(64, 32_768)]
    public void FlashSharedMemoryHoldsTwoStagesOfKeysAndValues(int headDim, int expected)
    {
        // Two stages of 64 key and 64 value rows; the query tile (64 rows) is staged in the first.
        Assert.Equal(expected, RoutingProbeTraits.FlashSharedBytes(headDim));
        Assert.True(3 * expected <= 227 * 1024, "three blocks fit an H100 multiprocessor");
    }

    [Theory]
    [InlineData(null, RoutingProbeKernels.PreferredVariant)]
    [InlineData("", RoutingProbeKernels.PreferredVariant)]
    [InlineData("fast", RoutingProbeKernels.PreferredVariant)]
    [InlineData("Baseline", RoutingProbeVariant.Baseline)]
    [InlineData("pipelined", RoutingProbeVariant.Pipelined)]
    [InlineData("fine-splits", RoutingProbeVariant.FineSplits)]
    [InlineData(" flash ", RoutingProbeVariant.Flash)]
    [InlineData("flash-fine-splits", RoutingProbeVariant.FlashFineSplits)]
    [InlineData("FlashFineSplits", RoutingProbeVariant.FlashFineSplits)]
    public void TheVariantComesFromItsSetting(string? setting, RoutingProbeVariant expected) =>
        Assert.Equal(expected, RoutingProbeKernels.ParseVariant(setting));

    [Fact]
    public void EveryVariantIsNamedBySetting()
    {
        foreach (var variant in Enum.GetValues<RoutingProbeVariant>())
            Assert.Equal(variant, RoutingProbeKernels.ParseVariant(RoutingProbeKernels.SettingName(variant)));
        Assert.Equal("flash-fine-splits", RoutingProbeKernels.SettingName(RoutingProbeVariant.FlashFineSplits));
    }

    [Fact]
    public void OnlyTheClusterWalksShareTheirArithmetic()
    {
        Assert.True(RoutingProbeKernels.SameArithmetic(RoutingProbeVariant.Baseline, RoutingProbeVariant.Pipelined));
        Assert.False(RoutingProbeKernels.SameArithmetic(RoutingProbeVariant.Pipelined, RoutingProbeVariant.FineSplits));
        Assert.False(RoutingProbeKernels.SameArithmetic(RoutingProbeVariant.Pipelined, RoutingProbeVariant.Flash));
        Assert.False(RoutingProbeKernels.SameArithmetic(RoutingProbeVariant.Flash, RoutingProbeVariant.FlashFineSplits));
    }

    [Fact]
    public void AnUnknownVariantIsRefusedByName()
    {
        var error = Assert.Throws<ArgumentException>(() => RoutingProbeKernels.ParseVariant("quick"));
        Assert.Contains("SVG2_PROBE", error.Message);
        Assert.Contains("quick", error.Message);
    }

    [Theory]
    [InlineData(132, 40, 300, 1000, 75_600, 3)]      // Wan 14B 720p on an H100: 200 blocks without splits
    [InlineData(132, 12, 200, 1000, 32_760, 11)]     // Wan 1.3B 480p: 48 blocks without splits
    [InlineData(132, 1, 64, 8, 4_000, 3)]            // few keys: no split under 1024 of them
    [InlineData(132, 2, 30, 2, 100_000, 2)]          // at most one split per key cluster
    [InlineData(132, 400, 300, 1000, 75_600, 1)]     // enough blocks already
    public void SplitsFillTheGpuWithinLimits(int multiprocessors, long groups, int queryClusters, int keyClusters, long tokens, int expected) =>
        Assert.Equal(expected, RoutingProbeKernels.Splits(multiprocessors, groups, queryClusters, keyClusters, tokens));

    [Theory]
    [InlineData(132, 40, 300, 1000, 75_600, 11)]     // Wan 14B 720p on an H100: 2200 blocks, about 8 resident grids
    [InlineData(132, 1, 64, 8, 4_000, 3)]            // few keys: still no split under 1024 of them
    public void FineSplitsAimAtEightWaves(int multiprocessors, long groups, int queryClusters, int keyClusters, long tokens, int expected) =>
        Assert.Equal(expected, RoutingProbeKernels.Splits(multiprocessors, groups, queryClusters, keyClusters, tokens, waves: 8));

    [SkippableFact]
    public void KernelsMatchTheReferenceProbe()
    {
        Skip.IfNot(CudaDevice.IsAvailable(out var reason), $"no CUDA device: {reason}");
        Skip.IfNot(torch.cuda.is_available(), "libtorch has no CUDA");
        var failures = RoutingProbeConformance.RunAll(torch.device(DeviceType.CUDA, 0), 23).Where(r => !r.Passed).ToList();
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Select(f => $"{f.Check}: {f.Detail}")));
    }
}
