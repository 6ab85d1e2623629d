using System.Runtime.InteropServices;

namespace Svg2.Cli.Hosting;

/// <summary>
/// Keeps large freed blocks in glibc's heap for reuse. glibc hands blocks above its mapping threshold (128 KiB at
/// first, raised as such blocks are freed, at most 32 MiB) back to the system on free and maps fresh, zero-filled
/// pages on the next allocation. libtorch's CPU operators allocate temporaries of tens of megabytes every call, so
/// a generation on the CPU spent about a sixth of its time in page faults (measured with perf: page-fault handling
/// and page clearing). Raising the mapping and trim thresholds lets the heap reuse those blocks: a dense step of the
/// built-in model on a 2-core CPU went from 13.9-15.8 s to 11.7-13.6 s (docs/small-model.md).
/// </summary>
/// <remarks>
/// Only glibc has <c>mallopt</c> with these options; elsewhere (musl, macOS, Windows) nothing changes. Settings the
/// user made through glibc's own environment variables are left as they are.
/// </remarks>
internal static partial class HeapTuning
{
    // malloc.h's option numbers.
    const int TrimThresholdOption = -1;
    const int MmapThresholdOption = -3;

    /// <summary>Blocks up to this size come from the heap (the largest CPU temporaries of a generation are well below it).</summary>
    internal const int MmapThreshold = 1 << 30;

    /// <summary>The largest mapping threshold older glibc accepts (half its 64 MiB heap size), tried when the first is refused.</summary>
    internal const int OlderGlibcMmapThreshold = 32 << 20;

    /// <summary>Free memory at the top of the heap kept rather than returned to the system.</summary>
    internal const int TrimThreshold = int.MaxValue;

    static readonly string[] UserSettings = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"];

    /// <summary>Applies the thresholds on Linux with glibc; returns whether both were taken.</summary>
    public static bool Apply()
    {
        if (!OperatingSystem.IsLinux() || UserSettings.Any(name => Environment.GetEnvironmentVariable(name) is not null)) return false;
        try
        {
            // mallopt returns 1 on success, 0 when glibc refuses the value. Either setting also fixes the mapping
            // threshold where it is, so the trim threshold follows only a mapping threshold that was taken: alone it
            // would leave every block above 128 KiB mapped afresh.
            bool mapped = MallOpt(MmapThresholdOption, MmapThreshold) == 1 || MallOpt(MmapThresholdOption, OlderGlibcMmapThreshold) == 1;
            return mapped && MallOpt(TrimThresholdOption, TrimThreshold) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    private static partial int MallOpt(int option, int value);
}
