using System.Runtime.InteropServices;

namespace Svg2.Cuda.Interop;

/// <summary>
/// Finds the CUDA driver library and NVRTC on a machine without a build step: the driver comes with the
/// NVIDIA driver install (<c>libcuda.so.1</c>); NVRTC may come from a CUDA toolkit, from a PyTorch
/// install's bundled wheels, or from the library path.
/// </summary>
public static class NativeLibraryLocator
{
    /// <summary>File names of the driver library, most specific first.</summary>
    public static readonly IReadOnlyList<string> DriverNames = ["libcuda.so.1", "libcuda.so"];

    /// <summary>File names of NVRTC, newest major version first.</summary>
    public static readonly IReadOnlyList<string> NvrtcNames = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"];

    /// <summary>
    /// Every folder that may hold NVRTC, in search order: CUDA_HOME / CUDA_PATH, /usr/local/cuda*,
    /// the nvidia wheels and torch/lib of Python installs, then LD_LIBRARY_PATH.
    /// </summary>
    /// <param name="environment">Reads an environment variable (injectable for tests).</param>
    /// <param name="directoryExists">Whether a folder exists (injectable for tests).</param>
    /// <param name="subdirectories">Sub-folders of a folder (injectable for tests).</param>
    public static IReadOnlyList<string> NvrtcFolders(
        Func<string, string?> environment, Func<string, bool> directoryExists, Func<string, IEnumerable<string>> subdirectories)
    {
        var folders = new List<string>();
        void AddToolkit(string? root)
        {
            if (string.IsNullOrEmpty(root)) return;
            folders.Add(Path.Combine(root, "lib64"));
            folders.Add(Path.Combine(root, "lib"));
            folders.Add(Path.Combine(root, "targets", "x86_64-linux", "lib"));
        }

        AddToolkit(environment("CUDA_HOME"));
        AddToolkit(environment("CUDA_PATH"));
        AddToolkit("/usr/local/cuda");
        if (directoryExists("/usr/local"))
            foreach (var toolkit in subdirectories("/usr/local").Where(d => Path.GetFileName(d).StartsWith("cuda-", StringComparison.Ordinal)).OrderDescending(StringComparer.Ordinal))
                AddToolkit(toolkit);

        foreach (var sitePackages in PythonPackageFolders(environment, directoryExists, subdirectories))
        {
            folders.Add(Path.Combine(sitePackages, "nvidia", "cuda_nvrtc", "lib"));
            folders.Add(Path.Combine(sitePackages, "nvidia", "cu13", "lib"));
            folders.Add(Path.Combine(sitePackages, "torch", "lib"));
        }

        foreach (var entry in (environment("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            folders.Add(entry);
        return folders.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>site-packages / dist-packages folders of virtual environments, conda and system Pythons.</summary>
    static IEnumerable<string> PythonPackageFolders(
        Func<string, string?> environment, Func<string, bool> directoryExists, Func<string, IEnumerable<string>> subdirectories)
    {
        var prefixes = new List<string>();
        foreach (var variable in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
            if (environment(variable) is { Length: > 0 } prefix) prefixes.Add(Path.Combine(prefix, "lib"));
        if (environment("HOME") is { Length: > 0 } home) prefixes.Add(Path.Combine(home, ".local", "lib"));
        prefixes.AddRange(["/usr/local/lib", "/usr/lib", "/opt/conda/lib"]);
        foreach (var prefix in prefixes.Where(directoryExists))
            foreach (var python in subdirectories(prefix).Where(d => Path.GetFileName(d).StartsWith("python3", StringComparison.Ordinal)).OrderDescending(StringComparer.Ordinal))
                foreach (var kind in new[] { "site-packages", "dist-packages" })
                    yield return Path.Combine(python, kind);
    }

    /// <summary>Loads the driver library or throws a <see cref="CudaException"/> naming every name tried.</summary>
    public static IntPtr LoadDriver()
    {
        foreach (var name in DriverNames)
            if (NativeLibrary.TryLoad(name, out var handle)) return handle;
        throw new CudaException(
            $"The CUDA driver library was not found (tried {string.Join(", ", DriverNames)} on the system library path). " +
            "Install the NVIDIA driver or run on a machine with an NVIDIA GPU.");
    }

    /// <summary>Loads NVRTC from the first folder that has it, else throws naming every place searched.</summary>
    public static IntPtr LoadNvrtc() => LoadNvrtc(Environment.GetEnvironmentVariable, Directory.Exists, SafeSubdirectories, File.Exists);

    /// <summary>The search behind <see cref="LoadNvrtc()"/>, with injectable file-system access.</summary>
    public static IntPtr LoadNvrtc(
        Func<string, string?> environment, Func<string, bool> directoryExists,
        Func<string, IEnumerable<string>> subdirectories, Func<string, bool> fileExists)
    {
        var folders = NvrtcFolders(environment, directoryExists, subdirectories);
        foreach (var folder in folders)
            foreach (var name in NvrtcNames)
            {
                var path = Path.Combine(folder, name);
                if (fileExists(path) && NativeLibrary.TryLoad(path, out var handle)) return handle;
            }
        foreach (var name in NvrtcNames)
            if (NativeLibrary.TryLoad(name, out var handle)) return handle;
        throw new CudaException(MissingNvrtcMessage(folders));
    }

    /// <summary>The error text for a missing NVRTC: what was looked for and every folder searched.</summary>
    public static string MissingNvrtcMessage(IReadOnlyList<string> folders) =>
        $"NVRTC (the CUDA run-time compiler) was not found. Looked for {string.Join(", ", NvrtcNames)} in: " +
        $"{string.Join("; ", folders)}; and on the system library path. Install the CUDA toolkit, set CUDA_HOME, " +
        "or install PyTorch with CUDA (its wheels bundle NVRTC).";

    static IEnumerable<string> SafeSubdirectories(string folder)
    {
        try { return Directory.GetDirectories(folder); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
