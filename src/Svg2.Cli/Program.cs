using System.CommandLine;
using Svg2.Cli.Commands;

var root = new RootCommand("svg2: SVG2 semantic-aware sparse attention for video diffusion transformers (benchmarks, evaluation, sweeps).");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(SweepCommand.Create());
root.Subcommands.Add(BenchModelCommand.Create());
root.Subcommands.Add(VerifyCommand.Create());
return root.Parse(args).Invoke();
