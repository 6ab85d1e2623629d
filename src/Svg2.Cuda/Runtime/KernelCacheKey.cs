using System.Security.Cryptography;
using System.Text;

namespace Svg2.Cuda.Runtime;

/// <summary>
/// The identity of a compiled kernel module: a hash of everything that changes the binary (sources,
/// compiler options, target architecture, NVRTC version), so a stale binary is never reused.
/// </summary>
public static class KernelCacheKey
{
    /// <summary>A hex SHA-256 over the inputs, each length-prefixed so no two inputs collide by concatenation.</summary>
    /// <param name="sources">Main source and headers (name, text), in a fixed order.</param>
    /// <param name="options">NVRTC options.</param>
    /// <param name="architecture">For example sm_90a.</param>
    /// <param name="nvrtcVersion">For example (13, 0).</param>
    public static string Compute(IEnumerable<(string Name, string Text)> sources, IEnumerable<string> options, string architecture, (int Major, int Minor) nvrtcVersion)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            hash.AppendData(BitConverter.GetBytes(bytes.Length));
            hash.AppendData(bytes);
        }
        foreach (var (name, text) in sources) { Add(name); Add(text); }
        foreach (var option in options) Add(option);
        Add(architecture);
        Add($"nvrtc {nvrtcVersion.Major}.{nvrtcVersion.Minor}");
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// The on-disk cache folder: $SVG2_KERNEL_CACHE, else $XDG_CACHE_HOME/svg2/kernels, else ~/.cache/svg2/kernels.
    /// </summary>
    public static string CacheFolder(Func<string, string?> environment)
    {
        if (environment("SVG2_KERNEL_CACHE") is { Length: > 0 } explicitFolder) return explicitFolder;
        var cacheHome = environment("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(environment("HOME") ?? Path.GetTempPath(), ".cache");
        return Path.Combine(cacheHome, "svg2", "kernels");
    }
}
