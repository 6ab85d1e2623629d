using System.Runtime.InteropServices;
using Svg2.Cli.Hosting;

namespace Svg2.Tests.Cli;

public class HeapTuningTests
{
    [SkippableFact]
    public void GlibcTakesBothThresholds()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out _), "mallopt's options are glibc's.");
        Skip.If(Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null || Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") is not null
                || Environment.GetEnvironmentVariable("GLIBC_TUNABLES") is not null, "The user's own malloc settings are left alone.");
        Assert.True(HeapTuning.Apply());
    }

    [Fact]
    public void ThresholdsKeepEveryTemporaryOfAGenerationInTheHeap()
    {
        // The largest CPU temporary of the built-in model's step: the feed-forward's hidden activations of both
        // guidance branches, 2 x 6,336 tokens x 1,024 float32 values.
        const long LargestTemporary = 2L * 6336 * 1024 * sizeof(float);
        Assert.True(HeapTuning.MmapThreshold > LargestTemporary);
        Assert.True(HeapTuning.TrimThreshold >= HeapTuning.MmapThreshold);
    }
}
