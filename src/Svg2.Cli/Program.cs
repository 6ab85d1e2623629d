using System.CommandLine;
using Svg2.Cli.Commands;

var root = new RootCommand("SVG2: semantic-aware sparse attention for video diffusion transformers.");
root.Subcommands.Add(VerifyCommand.Create());

var device = new Option<string>("--device") { Description = "Backend to benchmark (cuda).", DefaultValueFactory = _ => "cuda" };
var shape = new Option<string>("--shape") { Description = "Shape preset, or 'all'.", DefaultValueFactory = _ => "wan-14b-720p" };
var iterations = new Option<int>("--iterations") { Description = "Timed iterations per measurement.", DefaultValueFactory = _ => 20 };
var bench = new Command("bench", "Time SVG2 against dense attention.") { device, shape, iterations };
bench.SetAction(parse => CudaBenchmarkReport.Run(parse.GetValue(shape)!, parse.GetValue(iterations)));
root.Subcommands.Add(bench);

return root.Parse(args).Invoke();
