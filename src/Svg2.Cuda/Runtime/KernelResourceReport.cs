using System.Text.RegularExpressions;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Runtime;

/// <summary>
/// Compiles every program of a kernel family with the shapes a library would use (<see cref="KernelTraits"/>) for an
/// architecture, with NVRTC alone (no GPU), and reads back what ptxas reports of each kernel (registers, spills, stack,
/// static shared memory, warnings) and its SASS instruction count. A register spill or a serialised warpgroup MMA shows here before any GPU run.
/// </summary>
public static partial class KernelResourceReport
{
    /// <summary>The Hopper family's architecture: its warpgroup MMA and setmaxnreg need the 'a' target.</summary>
    public const string HopperArchitecture = "sm_90a";

    [GeneratedRegex(@"^sm_\d{2,3}a?$")]
    private static partial Regex ArchitectureName();

    /// <summary>Each program of <paramref name="family"/> with the kernels ptxas compiled from it.</summary>
    /// <param name="family">The kernel family; the Hopper family also compiles the portable programs it runs beside its own.</param>
    /// <param name="element">bf16 or fp16.</param>
    /// <param name="headDim">64 or 128.</param>
    /// <param name="architecture">An exact target such as sm_90a or sm_80.</param>
    public static IReadOnlyList<(string Program, IReadOnlyList<KernelResources> Kernels)> Compile(KernelFamily family, ScalarType element, int headDim,
        string architecture)
    {
        KernelLibrary.RequireCompiledShape(element, headDim);
        if (!ArchitectureName().IsMatch(architecture))
            throw new ArgumentException($"'{architecture}' is not a CUDA architecture name such as {HopperArchitecture} or sm_80.");
        if (family == KernelFamily.Hopper && architecture != HopperArchitecture)
            throw new ArgumentException($"The Hopper kernels compile for {HopperArchitecture} only, not {architecture}.");
        var traits = KernelTraits.For(element, headDim);
        var headers = KernelSources.Headers.Select(h => (h, KernelSources.Read(h))).ToList();
        return [.. KernelSources.ProgramsFor(family).Select(program => (program, Report(program, headers, traits, architecture)))];
    }

    static IReadOnlyList<KernelResources> Report(string program, IReadOnlyList<(string Name, string Text)> headers, KernelTraits traits, string architecture)
    {
        var (cubin, log) = KernelCompiler.CompileWithReport(program, KernelSources.Read(program), headers, traits.CompileOptions(program), architecture);
        var instructions = CubinSections.InstructionCounts(cubin);
        return [.. PtxasReport.Parse(log).Select(kernel => kernel with { Instructions = instructions.GetValueOrDefault(kernel.Kernel) })];
    }
}
