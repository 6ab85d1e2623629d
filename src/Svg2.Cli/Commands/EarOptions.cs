using System.CommandLine;
using Svg2.Algorithm;
using Svg2.Configuration;

namespace Svg2.Cli.Commands;

/// <summary>The svg2-ear options (compensation, routing, error threshold), shared by the commands that run svg2-ear.</summary>
internal sealed class EarOptions
{
    readonly Option<string?> compensation = new("--compensation") { Description = "svg2-ear: per-row (default) or per-cluster centroid compensation of skipped key clusters" };
    readonly Option<string?> routing = new("--routing") { Description = "svg2-ear: error (error-aware routing; the default with per-row compensation) or top-p (SVG2's rule, with compensation; the default and only choice with per-cluster)" };
    readonly Option<int?> probeKeys = new("--probe-keys") { Description = "svg2-ear with error routing: the probe attends at most this many keys of each key cluster, weighted for the rest (default: every key)" };
    readonly Option<string?> probeNormaliser = new("--probe-normaliser") { Description = "svg2-ear with error routing: centroid (default: the softmax over the key clusters' centroids, weighted by size; no pass over the keys) or exact (the probe's softmax of each query cluster's mean over every key)" };
    readonly Option<double?> compensationTail = new("--compensation-tail") { Description = "svg2-ear per row: skipped blocks whose size-weighted centroid weight is below this share / KC of their query cluster's total are compensated per query cluster instead of with a key per row (τ, default 1e-4; 0: every skipped block per row)" };
    readonly Option<double?> errorThreshold = new("--error-threshold") { Description = "svg2-ear with error routing: compute a block exactly when its estimated share of the error is at least this times its share of the cost (λ, default 1)" };

    public EarOptions()
    {
        compensation.AcceptOnlyFromAmong("per-row", "per-cluster");
        routing.AcceptOnlyFromAmong("error", "top-p");
        probeNormaliser.AcceptOnlyFromAmong("exact", "centroid");
    }

    public Option<double?> ErrorThreshold => errorThreshold;

    /// <summary>Every svg2-ear option.</summary>
    public IReadOnlyList<Option> All => [compensation, routing, compensationTail, errorThreshold, probeKeys, probeNormaliser];

    /// <summary>The options only svg2-ear under error-aware routing reads.</summary>
    public IReadOnlyList<Option> ErrorRoutingOnly => [errorThreshold, probeKeys, probeNormaliser];

    /// <summary>
    /// Whether svg2-ear routes by top-p instead of by estimated error: given <c>--routing top-p</c>, or by default with
    /// per-cluster compensation (error-aware routing estimates per-row compensation only).
    /// </summary>
    public bool RoutesByTopP(ParseResult result) =>
        result.GetValue(routing) is { } given ? given == "top-p" : result.GetValue(compensation) == "per-cluster";

    /// <summary>
    /// <paramref name="options"/> with the compensation and routing the command line gives; unchanged when it gives
    /// none (svg2-ear's default, per row with error-aware routing, then comes from the method).
    /// </summary>
    public Svg2Options ApplyTo(ParseResult result, Svg2Options options)
    {
        if (!All.Any(o => result.GetResult(o) is { Implicit: false })) return options;
        if (result.GetValue(compensation) == "per-cluster" && result.GetValue(compensationTail) is not null)
            throw new ArgumentException("--compensation-tail splits per-row compensation; per-cluster compensation already folds every skipped block per query cluster.");
        return options with
        {
            Compensation = result.GetValue(compensation) == "per-cluster" ? CompensationMode.PerQueryCluster : CompensationMode.PerRow,
            Routing = RoutesByTopP(result) ? KeyClusterRouting.TopP : KeyClusterRouting.ErrorAware,
            CompensationTailMass = result.GetValue(compensationTail) ?? options.CompensationTailMass,
            ErrorThreshold = result.GetValue(errorThreshold) ?? options.ErrorThreshold,
            ProbeKeysPerCluster = result.GetValue(probeKeys) is { } keys
                ? keys >= 1 ? keys : throw new ArgumentException($"--probe-keys must be at least 1; got {keys}.")
                : options.ProbeKeysPerCluster,
            ProbeNormalisation = result.GetValue(probeNormaliser) switch
            {
                "centroid" => ProbeNormalisation.Centroid,
                "exact" => ProbeNormalisation.Exact,
                _ => options.ProbeNormalisation,
            },
        };
    }
}
