using Svg2.Cuda.Interop;

namespace Svg2.Tests.Cuda;

public class NativeLibraryLocatorTests
{
    static readonly Dictionary<string, string> Environment = new()
    {
        ["CUDA_HOME"] = "/opt/cuda-home",
        ["VIRTUAL_ENV"] = "/venv",
        ["LD_LIBRARY_PATH"] = "/extra/a:/extra/b",
        ["HOME"] = "/home/user",
    };

    static readonly string[] Folders = ["/usr/local", "/venv/lib", "/usr/lib"];

    static IReadOnlyList<string> Search() => NativeLibraryLocator.NvrtcFolders(
        name => Environment.GetValueOrDefault(name),
        folder => Folders.Contains(folder),
        folder => folder switch
        {
            "/usr/local" => ["/usr/local/cuda-12.4", "/usr/local/cuda-13.0", "/usr/local/bin"],
            "/venv/lib" => ["/venv/lib/python3.12"],
            "/usr/lib" => ["/usr/lib/python3.11", "/usr/lib/x86_64-linux-gnu"],
            _ => [],
        });

    [Fact]
    public void SearchOrderPutsCudaHomeFirstAndLibraryPathLast()
    {
        var folders = Search();
        Assert.Equal("/opt/cuda-home/lib64", folders[0]);
        Assert.Equal("/extra/b", folders[^1]);
        Assert.Equal("/extra/a", folders[^2]);
    }

    [Fact]
    public void SearchCoversToolkitTargetsNewestFirst()
    {
        var folders = Search().ToList();
        int newer = folders.IndexOf("/usr/local/cuda-13.0/targets/x86_64-linux/lib");
        int older = folders.IndexOf("/usr/local/cuda-12.4/targets/x86_64-linux/lib");
        Assert.True(newer >= 0 && older > newer, string.Join(", ", folders));
        Assert.DoesNotContain(folders, f => f.StartsWith("/usr/local/bin", StringComparison.Ordinal));
    }

    [Fact]
    public void SearchCoversPythonWheelsAndTorch()
    {
        var folders = Search();
        Assert.Contains("/venv/lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib", folders);
        Assert.Contains("/venv/lib/python3.12/site-packages/torch/lib", folders);
        Assert.Contains("/usr/lib/python3.11/dist-packages/torch/lib", folders);
        Assert.DoesNotContain(folders, f => f.Contains("x86_64-linux-gnu", StringComparison.Ordinal));
    }

    [Fact]
    public void MissingNvrtcNamesEveryFileAndFolder()
    {
        var folders = Search();
        var error = Assert.Throws<CudaException>(() => NativeLibraryLocator.LoadNvrtc(
            name => Environment.GetValueOrDefault(name), folder => Folders.Contains(folder), _ => [], _ => false));
        foreach (var name in NativeLibraryLocator.NvrtcNames) Assert.Contains(name, error.Message);
        Assert.Contains("/opt/cuda-home/targets/x86_64-linux/lib", error.Message);
        Assert.Contains("/extra/b", error.Message);
        Assert.Contains("CUDA_HOME", error.Message);
    }
}
