using System.Globalization;
using System.Text;
using Svg2.Evaluation.Workloads;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// Markdown tables of attention concentration (keys holding 90 % of a query's mass), grouped by head
/// type or layer, so the statistics in the documentation can be reproduced.
/// </summary>
public static class WorkloadReport
{
    /// <summary>
    /// One table row per group of heads: the per-query key counts of all heads in the group, pooled,
    /// as mean, median, p10 and p90, in percent of S and (mean) in keys.
    /// </summary>
    /// <param name="heads">Profiles from <see cref="AttentionMassProfile.Compute"/>.</param>
    /// <param name="groupOf">The group name of a profile (for example its head type).</param>
    public static string MassTable(IReadOnlyList<HeadMassStatistics> heads, Func<HeadMassStatistics, string> groupOf)
    {
        ArgumentNullException.ThrowIfNull(heads);
        ArgumentNullException.ThrowIfNull(groupOf);
        if (heads.Count == 0) throw new ArgumentException("No head profiles to report.", nameof(heads));
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"| heads | n | S | keys for {heads[0].Mass:P0} mass: mean (keys) | mean % of S | median % | p10 % | p90 % |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var group in heads.GroupBy(groupOf))
        {
            var pooled = group.SelectMany(h => h.KeysForMass).ToArray();
            double keys = group.First().Keys;
            double Percent(double count) => 100.0 * count / keys;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key} | {group.Count()} | {keys:0} | {pooled.Average():0.0} | {Percent(pooled.Average()):0.00} | {Percent(HeadMassStatistics.Percentile(pooled, 0.5)):0.00} | {Percent(HeadMassStatistics.Percentile(pooled, 0.1)):0.00} | {Percent(HeadMassStatistics.Percentile(pooled, 0.9)):0.00} |");
        }

        return text.ToString();
    }

    /// <summary>Generates the video-like workload for <paramref name="shape"/> and reports its
    /// concentration per head type (and over all heads).</summary>
    public static string VideoLikeWorkload(VideoShape shape, int seed = 0, int sampledQueries = 512, VideoLikeProfile? profile = null)
    {
        using var scope = NewDisposeScope();
        using var sample = Workloads.VideoLikeWorkload.Generate(shape, seed, profile: profile);
        var heads = AttentionMassProfile.Compute(sample.Query, sample.Key, sampledQueries, seed);
        var byType = MassTable(heads, h => sample.HeadKinds[h.Head].ToString());
        var overall = MassTable(heads, _ => "all");
        return byType + string.Join('\n', overall.Split('\n').Skip(2));
    }
}
