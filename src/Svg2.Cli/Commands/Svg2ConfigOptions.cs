using System.CommandLine;
using Svg2.Algorithm;
using Svg2.Configuration;

namespace Svg2.Cli.Commands;

/// <summary>The SVG2 configuration options shared by the commands.</summary>
internal sealed class Svg2ConfigOptions
{
    readonly Option<string?> preset = new("--preset") { Description = $"start from a reference configuration: {string.Join(", ", Svg2Presets.All.Select(p => p.Name))}" };
    readonly Option<int?> queryClusters = new("--qc") { Description = "query clusters per head (explicit: used exactly, no scaling)" };
    readonly Option<int?> keyClusters = new("--kc") { Description = "key clusters per head (explicit: used exactly, no scaling)" };
    readonly Option<double?> topP = new("--top-p") { Description = "attention mass the selected key clusters must cover, in (0, 1] (default 0.9)" };
    readonly Option<double?> minRatio = new("--min-kc-ratio") { Description = "keep at least floor(ratio x KC) key clusters (default 0.1)" };
    readonly Option<int?> initIterations = new("--init-iters") { Description = "k-means iterations from a random start (default 50)" };
    readonly Option<int?> stepIterations = new("--step-iters") { Description = "k-means iterations from cached centroids (default 2)" };
    readonly Option<string> selection = new("--selection") { Description = "fp32, or bf16 to emulate the reference's bf16 top-p numerics", DefaultValueFactory = _ => "fp32" };
    readonly Option<long> seed = new("--seed") { Description = "seed of the workload and of the k-means initialisation", DefaultValueFactory = _ => 0 };

    public Svg2ConfigOptions() => selection.AcceptOnlyFromAmong("fp32", "bf16");

    public Option<long> Seed => seed;

    public Option<double?> TopP => topP;

    public Option<double?> MinRatio => minRatio;

    /// <summary>The options only SVG2 itself reads (the position-block baseline shares only the minimum ratio).</summary>
    public IReadOnlyList<Option> Svg2Only => [preset, queryClusters, keyClusters, topP, initIterations, stepIterations, selection];

    /// <summary>Every option this set adds.</summary>
    public IReadOnlyList<Option> All => [preset, queryClusters, keyClusters, topP, minRatio, initIterations, stepIterations, selection, seed];

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }

    public Svg2Options Build(ParseResult result)
    {
        var options = result.GetValue(preset) is { } name ? Svg2Presets.Get(name).Options : new Svg2Options();
        options = options with
        {
            QueryClusters = result.GetValue(queryClusters) ?? options.QueryClusters,
            KeyClusters = result.GetValue(keyClusters) ?? options.KeyClusters,
            ScaleClusterCounts = result.GetValue(queryClusters) is null && result.GetValue(keyClusters) is null,
            TopP = result.GetValue(topP) ?? options.TopP,
            MinKeyClusterRatio = result.GetValue(minRatio) ?? options.MinKeyClusterRatio,
            InitIterations = result.GetValue(initIterations) ?? options.InitIterations,
            StepIterations = result.GetValue(stepIterations) ?? options.StepIterations,
            SelectionPrecision = result.GetValue(selection) == "bf16" ? SelectionPrecision.BFloat16Emulated : SelectionPrecision.Float32,
            Seed = result.GetValue(seed),
        };
        options.Validate();
        return options;
    }
}
