using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Svg2.Cuda.Interop;

namespace Svg2.Cuda.Runtime;

/// <summary>
/// Compiles CUDA C++ to a device binary (cubin) for one exact architecture with NVRTC, caching the
/// result in memory and on disk under a <see cref="KernelCacheKey"/>.
/// </summary>
public static unsafe class KernelCompiler
{
    static readonly ConcurrentDictionary<string, byte[]> MemoryCache = new();
    static readonly Lazy<(int Major, int Minor)> Version = new(ReadVersion);

    /// <summary>SVG2_NVRTC_VERBOSE=1 prints the compiler log (registers, spills) of every compilation to stderr.</summary>
    static bool Verbose => Environment.GetEnvironmentVariable("SVG2_NVRTC_VERBOSE") == "1";

    /// <summary>The NVRTC version, loading NVRTC on first use.</summary>
    public static (int Major, int Minor) NvrtcVersion => Version.Value;

    /// <summary>Returns the cubin for the source, compiling only when neither cache has it.</summary>
    /// <param name="name">Source file name, for NVRTC messages.</param>
    /// <param name="source">The translation unit.</param>
    /// <param name="headers">Headers it may include by name.</param>
    /// <param name="options">Extra NVRTC options (macros); the architecture option is added here.</param>
    /// <param name="architecture">For example sm_90a.</param>
    public static byte[] Compile(string name, string source, IReadOnlyList<(string Name, string Text)> headers, IReadOnlyList<string> options, string architecture)
    {
        var allOptions = WithTarget(options, architecture);
        if (Verbose) allOptions.Add(ResourceReportOption);
        var key = KernelCacheKey.Compute([(name, source), .. headers], allOptions, architecture, NvrtcVersion);
        return MemoryCache.GetOrAdd(key, k => LoadOrCompile(k, name, source, headers, allOptions));
    }

    static byte[] LoadOrCompile(string key, string name, string source, IReadOnlyList<(string Name, string Text)> headers, List<string> options)
    {
        var folder = KernelCacheKey.CacheFolder(Environment.GetEnvironmentVariable);
        var path = Path.Combine(folder, $"{Path.GetFileNameWithoutExtension(name)}-{key}.cubin");
        try
        {
            if (File.Exists(path)) return File.ReadAllBytes(path);
        }
        catch (IOException) { }

        var (cubin, _) = CompileWithNvrtc(name, source, headers, options);
        try
        {
            Directory.CreateDirectory(folder);
            var temporary = path + $".{Environment.ProcessId}.tmp";
            File.WriteAllBytes(temporary, cubin);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only home only costs a recompilation next time.
        }
        return cubin;
    }

    /// <summary>
    /// Compiles the source afresh (no cache) with ptxas's resource report, and returns the cubin and the compiler log: per
    /// kernel its registers, spills, stack and static shared memory, and any ptxas warnings (<see cref="PtxasReport.Parse"/>).
    /// Needs NVRTC only, no GPU.
    /// </summary>
    /// <param name="name">Source file name, for NVRTC messages.</param>
    /// <param name="source">The translation unit.</param>
    /// <param name="headers">Headers it may include by name.</param>
    /// <param name="options">Extra NVRTC options (macros); the architecture and the report options are added here.</param>
    /// <param name="architecture">For example sm_90a.</param>
    public static (byte[] Cubin, string Log) CompileWithReport(string name, string source, IReadOnlyList<(string Name, string Text)> headers,
        IReadOnlyList<string> options, string architecture)
    {
        _ = NvrtcVersion;
        return CompileWithNvrtc(name, source, headers, [.. WithTarget(options, architecture), ResourceReportOption]);
    }

    /// <summary>ptxas's per-kernel resource report (registers, spills, stack, shared memory) in the NVRTC log.</summary>
    const string ResourceReportOption = "--ptxas-options=-v";

    static List<string> WithTarget(IReadOnlyList<string> options, string architecture) => [.. options, $"--gpu-architecture={architecture}", "--std=c++17"];

    static (byte[] Cubin, string Log) CompileWithNvrtc(string name, string source, IReadOnlyList<(string Name, string Text)> headers, List<string> options)
    {
        var allocations = new List<IntPtr>();
        byte* Utf8(string text)
        {
            var pointer = Marshal.StringToCoTaskMemUTF8(text);
            allocations.Add(pointer);
            return (byte*)pointer;
        }

        IntPtr program = IntPtr.Zero;
        try
        {
            var headerTexts = stackalloc byte*[Math.Max(1, headers.Count)];
            var headerNames = stackalloc byte*[Math.Max(1, headers.Count)];
            for (int i = 0; i < headers.Count; i++)
            {
                headerTexts[i] = Utf8(headers[i].Text);
                headerNames[i] = Utf8(headers[i].Name);
            }
            Nvrtc.ThrowIfFailed(Nvrtc.nvrtcCreateProgram(&program, Utf8(source), Utf8(name), headers.Count, headerTexts, headerNames), $"nvrtcCreateProgram({name})");
            var optionPointers = stackalloc byte*[options.Count];
            for (int i = 0; i < options.Count; i++) optionPointers[i] = Utf8(options[i]);
            var result = Nvrtc.nvrtcCompileProgram(program, options.Count, optionPointers);
            if (result != NvrtcResult.Success)
                throw new CudaException($"NVRTC could not compile {name} ({string.Join(" ", options)}):{Environment.NewLine}{ReadLog(program)}");
            var log = ReadLog(program);
            if (Verbose) Console.Error.WriteLine($"NVRTC {name} ({string.Join(" ", options)}):{Environment.NewLine}{log}");
            nuint size;
            Nvrtc.ThrowIfFailed(Nvrtc.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize");
            var cubin = new byte[(int)size];
            fixed (byte* pointer = cubin) Nvrtc.ThrowIfFailed(Nvrtc.nvrtcGetCUBIN(program, pointer), "nvrtcGetCUBIN");
            return (cubin, log);
        }
        finally
        {
            if (program != IntPtr.Zero) Nvrtc.nvrtcDestroyProgram(&program);
            foreach (var pointer in allocations) Marshal.FreeCoTaskMem(pointer);
        }
    }

    static string ReadLog(IntPtr program)
    {
        nuint size;
        if (Nvrtc.nvrtcGetProgramLogSize(program, &size) != NvrtcResult.Success || size == 0) return "(no log)";
        var log = new byte[(int)size];
        fixed (byte* pointer = log) Nvrtc.nvrtcGetProgramLog(program, pointer);
        return Encoding.UTF8.GetString(log).TrimEnd('\0');
    }

    static (int, int) ReadVersion()
    {
        NativeLibraryNames.EnsureNvrtc();
        int major, minor;
        Nvrtc.ThrowIfFailed(Nvrtc.nvrtcVersion(&major, &minor), "nvrtcVersion");
        return (major, minor);
    }
}
