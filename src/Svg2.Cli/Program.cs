using System.CommandLine;
using Svg2.Cli.Commands;

var root = new RootCommand("SVG2: semantic-aware sparse attention for video diffusion transformers.");
root.Subcommands.Add(BenchModelCommand.Create());
return root.Parse(args).Invoke();
