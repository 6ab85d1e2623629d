using System.CommandLine;
using Spectre.Console;
using Svg2.Cuda.Interop;
using Svg2.Cuda.Runtime;
using TorchSharp;

namespace Svg2.Cli.Commands;

/// <summary>
/// <c>svg2 kernels</c>: compiles the CUDA kernels with NVRTC for an architecture, on a machine with or without a GPU, and
/// prints what ptxas reports of each (registers, spills, stack, static shared memory, warnings) and its SASS instruction count, so that a kernel change
/// is checked for spills and serialised warpgroup MMAs before it is timed.
/// </summary>
public static class KernelsCommand
{
    /// <summary>The command; exit code 0 once every program compiled, 2 for bad arguments, a missing NVRTC or a compile error.</summary>
    public static Command Create()
    {
        var architecture = new Option<string>("--arch")
            { Description = "Target architecture (sm_90a for the Hopper kernels, or e.g. sm_80 for the portable ones).", DefaultValueFactory = _ => KernelResourceReport.HopperArchitecture };
        var dtype = new Option<string>("--dtype") { Description = "Element type the kernels are compiled for: bf16 or fp16.", DefaultValueFactory = _ => "bf16" };
        var headDim = new Option<int>("--head-dim") { Description = "Head dimension the kernels are compiled for: 64 or 128.", DefaultValueFactory = _ => 128 };
        var command = new Command("kernels", "Compile the CUDA kernels (NVRTC, no GPU needed) and report registers, spills and ptxas warnings.") { architecture, dtype, headDim };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            string target = parse.GetValue(architecture)!;
            var element = parse.GetValue(dtype) switch
            {
                "bf16" => torch.ScalarType.BFloat16,
                "fp16" => torch.ScalarType.Float16,
                var other => throw new ArgumentException($"--dtype must be bf16 or fp16 (got '{other}')."),
            };
            var family = target == KernelResourceReport.HopperArchitecture ? KernelFamily.Hopper : KernelFamily.Portable;
            IReadOnlyList<(string Program, IReadOnlyList<KernelResources> Kernels)> programs;
            try
            {
                programs = KernelResourceReport.Compile(family, element, parse.GetValue(headDim), target);
            }
            catch (CudaException error)
            {
                throw new InvalidOperationException(error.Message, error);
            }
            var table = new Table().AddColumns("program", "kernel", "registers", "spilled (B)", "reloaded (B)", "stack (B)", "static smem (B)", "warnings", "SASS instr.");
            foreach (var (program, kernels) in programs)
                foreach (var kernel in kernels)
                    table.AddRow(Markup.Escape(program), Markup.Escape(kernel.Kernel), kernel.Registers.ToString(),
                        Flag(kernel.SpillStoreBytes), Flag(kernel.SpillLoadBytes), kernel.StackBytes.ToString(), kernel.SharedBytes.ToString(), Flag(kernel.Warnings.Count),
                        kernel.Instructions.ToString());
            AnsiConsole.Write(table);
            var all = programs.SelectMany(p => p.Kernels).ToList();
            foreach (var kernel in all)
                foreach (var warning in kernel.Warnings)
                    Console.WriteLine($"{kernel.Kernel}: {warning}");
            int spilling = all.Count(k => k.Spills), warned = all.Count(k => k.Warnings.Count > 0);
            Console.WriteLine($"{all.Count} kernels compiled for {target} (NVRTC {KernelCompiler.NvrtcVersion.Major}.{KernelCompiler.NvrtcVersion.Minor}); " +
                              $"{spilling} spill registers to local memory, {warned} have ptxas warnings");
            return 0;
        }));
        return command;
    }

    static string Flag(int value) => value > 0 ? $"[yellow]{value}[/]" : "0";
}
