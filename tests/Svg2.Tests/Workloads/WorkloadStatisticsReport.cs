using Svg2.Evaluation.Statistics;
using Svg2.Evaluation.Workloads;
using Xunit.Abstractions;

namespace Svg2.Tests.Workloads;

/// <summary>
/// Prints the attention concentration tables of docs/workload.md. The large shape runs only when
/// SVG2_WORKLOAD_REPORT=1 (minutes on a small CPU).
/// </summary>
public class WorkloadStatisticsReport(ITestOutputHelper output)
{
    [Fact]
    public void SmallShapeIsPeakedLikeAVideoModel()
    {
        var table = WorkloadReport.VideoLikeWorkload(VideoShape.Small, seed: 0, sampledQueries: 512);
        output.WriteLine("small (8x18x32 = 4,608 tokens, 8 heads, D 64), seed 0, 512 sampled queries per head");
        output.WriteLine(table);

        using var sample = VideoLikeWorkload.Generate(VideoShape.Small, seed: 0);
        var heads = AttentionMassProfile.Compute(sample.Query, sample.Key, sampledQueries: 256);
        // Most heads: 90 % of the mass within a few percent of the keys; none degenerate to a single key everywhere.
        double peakedShare = heads.Count(h => h.PercentOfKeys(h.Median) < 10.0) / (double)heads.Count;
        Assert.True(peakedShare >= 0.6, $"Only {peakedShare:P0} of heads put 90 % of the mass in under 10 % of the keys.");
        Assert.All(heads, h => Assert.True(h.Mean > 1.5, $"Head {h.Head} attends a single key: mean {h.Mean}."));
    }

    [Fact]
    public void HardProfileLiesBetweenTheDefaultWorkloadAndRealTextAttention()
    {
        // docs/workload.md's table: WorkloadReport.VideoLikeWorkload(VideoShape.Small, 0, 512, VideoLikeProfile.Hard).
        IReadOnlyList<HeadMassStatistics> Heads(VideoLikeProfile profile)
        {
            using var sample = VideoLikeWorkload.Generate(VideoShape.Small, seed: 0, profile: profile);
            return AttentionMassProfile.Compute(sample.Query, sample.Key, sampledQueries: 128);
        }
        var hardHeads = Heads(VideoLikeProfile.Hard);
        output.WriteLine("small, video-hard profile, seed 0, 128 sampled queries per head");
        output.WriteLine(WorkloadReport.MassTable(hardHeads, _ => "all"));
        double standard = Heads(VideoLikeProfile.Standard).Average(h => h.PercentOfKeys(h.Mean)), hard = hardHeads.Average(h => h.PercentOfKeys(h.Mean));
        // Real text attention (MiniLM) needs 33% of the keys for 90% of the mass; the default workload under 4%.
        Assert.True(hard > 2 * standard && hard < 25, $"keys for 90% of the mass: default {standard:F2}%, hard {hard:F2}%");
    }

    [SkippableFact]
    public void LargeShapeReport()
    {
        Skip.IfNot(Environment.GetEnvironmentVariable("SVG2_WORKLOAD_REPORT") == "1", "Set SVG2_WORKLOAD_REPORT=1 to profile wan-1.3b-480p.");
        var table = WorkloadReport.VideoLikeWorkload(VideoShape.Wan13B480p, seed: 0, sampledQueries: 256);
        output.WriteLine("wan-1.3b-480p (21x30x52 = 32,760 tokens, 12 heads, D 128), seed 0, 256 sampled queries per head");
        output.WriteLine(table);
        Assert.Contains("| all |", table);
    }

    /// <summary>
    /// The same statistics for q, k, v files a model wrote (<c>svg2 generate --dump-qkv</c>), for example the
    /// built-in small model's: SVG2_QKV_REPORT is a list of such files separated by the path separator.
    /// </summary>
    [SkippableFact]
    public void DumpedAttentionReport()
    {
        var files = Environment.GetEnvironmentVariable("SVG2_QKV_REPORT");
        Skip.If(string.IsNullOrEmpty(files), "Set SVG2_QKV_REPORT to files written by svg2 generate --dump-qkv.");
        foreach (var file in files!.Split(Path.PathSeparator))
        {
            var (q, k, _) = Svg2.IO.QkvFile.Read(file);
            var heads = AttentionMassProfile.Compute(q, k, sampledQueries: 256);
            output.WriteLine($"{Path.GetFileName(file)} ([{string.Join(", ", q.shape)}]), 256 sampled queries per head");
            output.WriteLine(WorkloadReport.MassTable(heads, _ => "all"));
            Assert.Equal(q.shape[0] * q.shape[1], heads.Count);
            Assert.All(heads, h => Assert.InRange(h.Median, 1, q.shape[2]));
        }
    }

    [Fact]
    public void RealTextAttentionReport()
    {
        var (q, k, _) = Svg2.IO.QkvFile.Read(SharedData.Path("minilm-text-qkv.safetensors"));
        var heads = AttentionMassProfile.Compute(q, k, sampledQueries: 511);
        output.WriteLine("minilm-text-qkv (6 layers x 12 heads, S 511, D 32), all queries");
        output.WriteLine(WorkloadReport.MassTable(heads, h => $"layer {h.Head / 12}"));
        output.WriteLine(WorkloadReport.MassTable(heads, _ => "all"));
        Assert.Equal(72, heads.Count);
        Assert.Contains(heads, h => h.Median <= 3);
    }
}
