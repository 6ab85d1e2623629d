using System.Text.RegularExpressions;

namespace Svg2.Cuda.Runtime;

/// <summary>
/// Reads ptxas's resource report (<c>--ptxas-options=-v</c>, in the NVRTC log of <see cref="KernelCompiler.CompileWithReport"/>) into
/// one <see cref="KernelResources"/> per kernel, in the order ptxas compiled them.
/// </summary>
public static partial class PtxasReport
{
    [GeneratedRegex(@"Compiling entry function '(?<name>[^']+)'")]
    private static partial Regex EntryLine();

    [GeneratedRegex(@"(?<stack>\d+) bytes stack frame, (?<stores>\d+) bytes spill stores, (?<loads>\d+) bytes spill loads")]
    private static partial Regex FrameLine();

    [GeneratedRegex(@"Used (?<registers>\d+) registers")]
    private static partial Regex UsedLine();

    [GeneratedRegex(@"(?<shared>\d+) bytes smem")]
    private static partial Regex SharedPart();

    [GeneratedRegex(@"in (the )?function '(?<name>[^']+)'")]
    private static partial Regex NamedFunction();

    /// <summary>
    /// The kernels of a log. A warning that names a function in quotes belongs to it, any other to the kernel being
    /// compiled when it appears; a warning before the first kernel is dropped (it concerns the whole program).
    /// </summary>
    public static IReadOnlyList<KernelResources> Parse(string log)
    {
        var kernels = new List<KernelResources>();
        var warnings = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        string? current = null;
        int registers = 0, stack = 0, stores = 0, loads = 0, shared = 0;

        void Finish()
        {
            if (current is null) return;
            kernels.Add(new KernelResources(current, registers, stack, stores, loads, shared, WarningsOf(current)));
        }
        // One list a kernel, shared with its record: a warning naming a kernel that ptxas compiles later still reaches it.
        List<string> WarningsOf(string kernel) => warnings.TryGetValue(kernel, out var list) ? list : warnings[kernel] = [];

        foreach (var raw in log.Split('\n'))
        {
            var line = raw.Trim();
            if (EntryLine().Match(line) is { Success: true } entry)
            {
                Finish();
                current = entry.Groups["name"].Value;
                registers = stack = stores = loads = shared = 0;
            }
            else if (FrameLine().Match(line) is { Success: true } frame && current is not null)
            {
                stack = int.Parse(frame.Groups["stack"].Value);
                stores = int.Parse(frame.Groups["stores"].Value);
                loads = int.Parse(frame.Groups["loads"].Value);
            }
            else if (UsedLine().Match(line) is { Success: true } used && current is not null)
            {
                registers = int.Parse(used.Groups["registers"].Value);
                shared = SharedPart().Match(line) is { Success: true } smem ? int.Parse(smem.Groups["shared"].Value) : 0;
            }
            else if (line.Contains("warning", StringComparison.OrdinalIgnoreCase))
            {
                var owner = NamedFunction().Match(line) is { Success: true } named ? named.Groups["name"].Value : current;
                if (owner is not null) WarningsOf(owner).Add(line);
            }
        }
        Finish();
        return kernels;
    }
}
