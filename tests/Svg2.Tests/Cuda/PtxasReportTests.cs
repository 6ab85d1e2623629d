using Svg2.Cuda.Runtime;
using TorchSharp;
using Xunit;

namespace Svg2.Tests.Cuda;

public class PtxasReportTests
{
    // The shape of NVRTC's log with --ptxas-options=-v: a program line, then per kernel its entry, properties and usage.
    const string Log = """
        ptxas info    : 168 bytes gmem
        ptxas info    : Compiling entry function 'svg2_first' for 'sm_90a'
        ptxas info    : Function properties for svg2_first
        ptxas         .     16 bytes stack frame, 12 bytes spill stores, 20 bytes spill loads
        ptxas info    : Used 128 registers, 16 bytes cumulative stack size
        ptxas info    : Compiling entry function 'svg2_second' for 'sm_90a'
        ptxas info    : Function properties for svg2_second
        ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
        ptxas info    : Used 33 registers, 4352 bytes smem
        ptxas warning : (C7514) Potential Performance Loss: wgmma.mma_async instructions are serialized in the function 'svg2_first'
        ptxas warning : Some other warning without a function
        """;

    [Fact]
    public void ReadsEveryKernelInCompileOrder()
    {
        var kernels = PtxasReport.Parse(Log);
        Assert.Equal(["svg2_first", "svg2_second"], kernels.Select(k => k.Kernel));
    }

    [Fact]
    public void ReadsRegistersSpillsAndStack()
    {
        var first = PtxasReport.Parse(Log)[0];
        Assert.Equal((128, 16, 12, 20, 0), (first.Registers, first.StackBytes, first.SpillStoreBytes, first.SpillLoadBytes, first.SharedBytes));
        Assert.True(first.Spills);
    }

    [Fact]
    public void ReadsStaticSharedMemory()
    {
        var second = PtxasReport.Parse(Log)[1];
        Assert.Equal((33, 4352), (second.Registers, second.SharedBytes));
        Assert.False(second.Spills);
    }

    [Fact]
    public void GivesAWarningToTheKernelItNamesElseToTheKernelBeingCompiled()
    {
        var kernels = PtxasReport.Parse(Log);
        Assert.Single(kernels[0].Warnings, w => w.Contains("C7514"));
        Assert.Single(kernels[1].Warnings, w => w.Contains("without a function"));
    }

    [Fact]
    public void AnEmptyLogHasNoKernels() => Assert.Empty(PtxasReport.Parse(""));

    [Theory]
    [InlineData("sm90a")]
    [InlineData("compute_90")]
    [InlineData("")]
    public void RefusesANameThatIsNoArchitecture(string architecture)
    {
        var error = Assert.Throws<ArgumentException>(() => KernelResourceReport.Compile(KernelFamily.Portable, torch.ScalarType.BFloat16, 128, architecture));
        Assert.Contains("architecture", error.Message);
    }

    [Fact]
    public void RefusesTheHopperKernelsForAnotherArchitecture()
    {
        var error = Assert.Throws<ArgumentException>(() => KernelResourceReport.Compile(KernelFamily.Hopper, torch.ScalarType.BFloat16, 128, "sm_80"));
        Assert.Contains("sm_90a", error.Message);
    }

    [Theory]
    [InlineData(torch.ScalarType.Float32, 128, "Float32")]
    [InlineData(torch.ScalarType.BFloat16, 96, "96")]
    public void RefusesShapesTheKernelsAreNotCompiledFor(torch.ScalarType element, int headDim, string named)
    {
        var error = Assert.Throws<ArgumentException>(() => KernelResourceReport.Compile(KernelFamily.Portable, element, headDim, "sm_80"));
        Assert.Contains(named, error.Message);
    }
}
