using Svg2.Cuda.Runtime;

namespace Svg2.Tests.Cuda;

public class KernelCacheKeyTests
{
    static string Key(string source = "kernel", string option = "-DSVG2_HEAD_DIM=128", string architecture = "sm_90a", (int, int)? version = null) =>
        KernelCacheKey.Compute([("a.cu", source), ("common.cuh", "header")], [option], architecture, version ?? (13, 0));

    [Fact]
    public void KeyIsStableForTheSameInputs() => Assert.Equal(Key(), Key());

    [Fact]
    public void KeyChangesWithSourceOptionsArchitectureAndCompilerVersion()
    {
        var keys = new[] { Key(), Key(source: "kernel2"), Key(option: "-DSVG2_HEAD_DIM=64"), Key(architecture: "sm_89"), Key(version: (12, 8)) };
        Assert.Equal(keys.Length, keys.Distinct().Count());
    }

    [Fact]
    public void ConcatenationOfInputsDoesNotCollide()
    {
        var first = KernelCacheKey.Compute([("ab", "c")], [], "sm_90a", (13, 0));
        var second = KernelCacheKey.Compute([("a", "bc")], [], "sm_90a", (13, 0));
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void CacheFolderFollowsXdgThenHome()
    {
        Assert.Equal("/x/svg2/kernels", KernelCacheKey.CacheFolder(n => n == "XDG_CACHE_HOME" ? "/x" : null));
        Assert.Equal("/home/u/.cache/svg2/kernels", KernelCacheKey.CacheFolder(n => n == "HOME" ? "/home/u" : null));
        Assert.Equal("/explicit", KernelCacheKey.CacheFolder(n => n switch { "SVG2_KERNEL_CACHE" => "/explicit", "XDG_CACHE_HOME" => "/x", _ => null }));
    }

    [Theory]
    [InlineData(9, 0, "sm_90a")]
    [InlineData(8, 0, "sm_80")]
    [InlineData(8, 9, "sm_89")]
    [InlineData(10, 0, "sm_100")]
    public void ArchitectureIsExactForTheGpu(int major, int minor, string expected) =>
        Assert.Equal(expected, CudaDevice.GpuArchitecture(major, minor));
}
