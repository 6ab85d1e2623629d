using System.CommandLine;
using Spectre.Console;
using Svg2.Cuda.Runtime;
using Svg2.Evaluation.Verification;
using TorchSharp;

namespace Svg2.Cli.Commands;

/// <summary>
/// <c>svg2 verify --device cuda</c>: runs the CUDA conformance checks (every kernel against float32
/// references on fresh random inputs, non-finite inputs, determinism, an allocation failure) on a
/// machine without the .NET SDK, and prints a table.
/// </summary>
public static class VerifyCommand
{
    /// <summary>The command; exit code 0 when every check passed, 1 otherwise, 2 for bad arguments.</summary>
    public static Command Create()
    {
        var device = new Option<string>("--device") { Description = "Backend to verify (cuda).", DefaultValueFactory = _ => "cuda" };
        var ordinal = new Option<int>("--ordinal") { Description = "CUDA device ordinal.", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random inputs.", DefaultValueFactory = _ => 2026 };
        var command = new Command("verify", "Check a fast backend against the float32 reference on random inputs.") { device, ordinal, seed };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            if (!string.Equals(parse.GetValue(device), "cuda", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"Unknown device '{parse.GetValue(device)}'; only 'cuda' has a fast backend to verify.");
            int gpu = parse.GetValue(ordinal);
            if (gpu < 0) throw new ArgumentException($"--ordinal must be at least 0 (got {gpu}).");
            // Without a usable GPU the suite reports that as its one failed check.
            bool available = CudaToolchain.IsAvailable(out _) && torch.cuda.is_available();
            if (available && gpu >= torch.cuda.device_count())
                throw new ArgumentException($"--ordinal {gpu} names no CUDA device; this machine has {torch.cuda.device_count()}.");
            var results = CudaConformance.RunAll(gpu, parse.GetValue(seed)).ToList();
            // Last, so that every other check has run before the process meets an allocation failure.
            if (available) results.Add(OutOfMemoryCheck.Run(gpu, parse.GetValue(seed) + 60));
            var table = new Table().AddColumn("check").AddColumn("result").AddColumn("detail");
            foreach (var result in results)
                table.AddRow(Markup.Escape(result.Check), result.Passed ? "[green]pass[/]" : "[red]FAIL[/]", Markup.Escape(result.Detail));
            AnsiConsole.Write(table);
            foreach (var result in results.Where(r => !r.Passed))
                Console.WriteLine($"FAILED {result.Check}:{Environment.NewLine}{result.Detail}");
            int failed = results.Count(r => !r.Passed);
            AnsiConsole.MarkupLine(failed == 0 ? $"[green]{results.Count} checks passed[/]" : $"[red]{failed} of {results.Count} checks failed[/]");
            return failed == 0 ? 0 : 1;
        }));
        return command;
    }
}
