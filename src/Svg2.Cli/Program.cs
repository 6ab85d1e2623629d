using System.CommandLine;
using Spectre.Console;
using Svg2.Cli.Commands;
using Svg2.Cli.Commands.Conformance;
using Svg2.Cli.Hosting;

// Logs and CI capture output through a pipe, where the console reports a width of 80 columns;
// give tables room there instead of wrapping every cell.
const int RedirectedWidth = 160;
if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = RedirectedWidth;
HeapTuning.Apply();

var root = new RootCommand("svg2: SVG2 semantic-aware sparse attention for video diffusion transformers (video generation, benchmarks, evaluation, sweeps, video comparison, training data and training).");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(SweepCommand.Create());
root.Subcommands.Add(BenchModelCommand.Create());
root.Subcommands.Add(VerifyCommand.Create());
root.Subcommands.Add(KernelsCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(QualityCommand.Create());
root.Subcommands.Add(CompareCommand.Create());
root.Subcommands.Add(DataCommand.Create());
root.Subcommands.Add(ConformanceCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
return root.Parse(args).Invoke();
