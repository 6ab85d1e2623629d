using Svg2.Cuda.Interop;
using Svg2.Cuda.Runtime;

namespace Svg2.Tests.Cuda;

public class CudaToolchainTests
{
    static readonly Dictionary<string, string> BogusEnvironment = new()
    {
        ["CUDA_HOME"] = "/nonexistent/cuda-home",
        ["LD_LIBRARY_PATH"] = "/nonexistent/lib",
    };

    [Fact]
    public void DriverProblemIsReportedWithoutLoadingNvrtc()
    {
        bool nvrtcTried = false;
        var reason = CudaToolchain.Probe(() => "libcuda.so.1 was not found", () => nvrtcTried = true);
        Assert.Equal("libcuda.so.1 was not found", reason);
        Assert.False(nvrtcTried);
    }

    [Fact]
    public void MissingNvrtcWithADriverNamesTheLibraryAndTheFoldersSearched()
    {
        var folders = NativeLibraryLocator.NvrtcFolders(name => BogusEnvironment.GetValueOrDefault(name), _ => false, _ => []);
        var reason = CudaToolchain.Probe(() => null, () => throw new CudaException(NativeLibraryLocator.MissingNvrtcMessage(folders)));
        Assert.NotNull(reason);
        Assert.Contains("driver is present", reason);
        Assert.Contains("libnvrtc.so.12", reason);
        Assert.Contains("/nonexistent/cuda-home/lib64", reason);
        Assert.Contains("/nonexistent/lib", reason);
    }

    [Fact]
    public void ALibraryThatFailsToResolveIsAReasonNotACrash()
    {
        var reason = CudaToolchain.Probe(() => null, () => throw new DllNotFoundException("svg2-nvrtc"));
        Assert.Contains("svg2-nvrtc", reason);
    }

    [Fact]
    public void UnexpectedFailuresAreNotSwallowed() =>
        Assert.Throws<InvalidOperationException>(() => CudaToolchain.Probe(() => null, () => throw new InvalidOperationException("bug")));

    [Fact]
    public void EverythingUsableMeansNoReason() => Assert.Null(CudaToolchain.Probe(() => null, () => { }));

    [Fact]
    public void TheProcessWideAnswerIsStableAndExplainsAFailure()
    {
        bool first = CudaToolchain.IsAvailable(out var firstReason);
        bool second = CudaToolchain.IsAvailable(out var secondReason);
        Assert.Equal(first, second);
        Assert.Equal(firstReason, secondReason);
        if (!first) Assert.False(string.IsNullOrWhiteSpace(firstReason));
        else Assert.Null(firstReason);
    }

    [Fact]
    public void ABogusCudaHomeIsSearchedAndNamedWhenNvrtcIsAbsent()
    {
        // Nothing exists in the bogus folders; the system library path may still hold NVRTC (on a GPU
        // machine), in which case loading succeeds and there is nothing to name.
        var searched = new List<string>();
        try
        {
            NativeLibraryLocator.LoadNvrtc(name => BogusEnvironment.GetValueOrDefault(name), _ => false, _ => [],
                path => { searched.Add(path); return false; });
        }
        catch (CudaException e)
        {
            Assert.Contains("/nonexistent/cuda-home/lib64", e.Message);
            Assert.Contains("libnvrtc.so.13", e.Message);
        }
        Assert.Contains("/nonexistent/cuda-home/lib64/libnvrtc.so.13", searched);
        Assert.Contains("/nonexistent/lib/libnvrtc.so", searched);
    }
}
