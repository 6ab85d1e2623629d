using System.CommandLine;
using Svg2.Algorithm;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;

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
    readonly Option<int?> stepIterations = StepIterationsOption();
    readonly Option<string?> kmeansPrecision = KMeansPrecisionOption();
    readonly Option<string> selection = new("--selection") { Description = "fp32, or bf16 to emulate the reference's bf16 top-p numerics", DefaultValueFactory = _ => "fp32" };
    readonly Option<long> seed = new("--seed") { Description = "seed of the workload and of the k-means initialisation", DefaultValueFactory = _ => 0 };
    readonly EarOptions ear = new();

    public Svg2ConfigOptions()
    {
        selection.AcceptOnlyFromAmong("fp32", "bf16");
    }

    public Option<long> Seed => seed;

    /// <summary>--step-iters of this set.</summary>
    public Option<int?> StepIterations => stepIterations;

    /// <summary>--step-iters: k-means iterations of a warm-started call (<see cref="Svg2Options.StepIterations"/>).</summary>
    public static Option<int?> StepIterationsOption() => new("--step-iters") { Description = "k-means iterations from cached centroids (default 2)" };

    /// <summary>--kmeans-precision: the numerics of k-means' distance products (<see cref="Svg2Options.KMeansPrecision"/>).</summary>
    public static Option<string?> KMeansPrecisionOption()
    {
        var option = new Option<string?>("--kmeans-precision")
        {
            Description = "k-means distance products: input (default: the inputs' precision) or fp8 (e4m3 products around the centroids' mean; CUDA: Hopper kernels only)",
        };
        option.AcceptOnlyFromAmong("input", "fp8");
        return option;
    }

    /// <summary><paramref name="options"/> with the precision <paramref name="option"/> names, if given.</summary>
    public static Svg2Options ApplyKMeansPrecision(ParseResult result, Option<string?> option, Svg2Options options) => result.GetValue(option) switch
    {
        "fp8" => options with { KMeansPrecision = KMeansPrecision.Fp8 },
        "input" => options with { KMeansPrecision = KMeansPrecision.Input },
        _ => options,
    };

    public Option<double?> TopP => topP;

    public Option<double?> MinRatio => minRatio;

    public Option<double?> ErrorThreshold => ear.ErrorThreshold;

    /// <summary>The options only the clustering methods read (the position-block baselines share only the minimum ratio).</summary>
    public IReadOnlyList<Option> Svg2Only => [preset, queryClusters, keyClusters, topP, initIterations, stepIterations, kmeansPrecision, selection, .. EarOnly];

    /// <summary>The options only svg2-ear reads.</summary>
    public IReadOnlyList<Option> EarOnly => ear.All;

    /// <summary>The options only svg2-ear under error-aware routing reads.</summary>
    public IReadOnlyList<Option> ErrorRoutingOnly => ear.ErrorRoutingOnly;

    /// <summary>Every option this set adds.</summary>
    public IReadOnlyList<Option> All => [preset, queryClusters, keyClusters, topP, minRatio, initIterations, stepIterations, kmeansPrecision, selection, seed, .. EarOnly];

    /// <summary>Whether svg2-ear routes by top-p instead of by estimated error (<see cref="EarOptions.RoutesByTopP"/>).</summary>
    public bool RoutesByTopP(ParseResult result) => ear.RoutesByTopP(result);

    /// <summary>
    /// Options a method given by <paramref name="names"/> would not read are an error: the svg2-ear options
    /// without svg2-ear, --top-p for svg2-ear alone under error routing, the error-routing options under top-p routing.
    /// </summary>
    public void RejectUnusedBy(ParseResult result, IReadOnlyCollection<string> names)
    {
        bool ear = names.Contains(MethodCatalog.Svg2Ear, StringComparer.OrdinalIgnoreCase);
        bool plain = names.Contains(MethodCatalog.Svg2, StringComparer.OrdinalIgnoreCase);
        if (!ear) CommandErrors.RejectUnused(result, EarOnly, "only svg2-ear compensates skipped clusters and routes by error");
        else if (RoutesByTopP(result)) CommandErrors.RejectUnused(result, ErrorRoutingOnly, "svg2-ear with --routing top-p selects by top-p");
        else if (!plain) CommandErrors.RejectUnused(result, [topP], "svg2-ear routes by estimated error (--error-threshold); --top-p applies to svg2 or to --routing top-p");
    }

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
        options = ApplyKMeansPrecision(result, kmeansPrecision, ear.ApplyTo(result, options));
        options.Validate();
        return options;
    }
}
