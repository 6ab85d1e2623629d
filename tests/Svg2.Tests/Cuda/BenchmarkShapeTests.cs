using Svg2.Configuration;
using Svg2.Evaluation.Benchmarks;
using Svg2.Evaluation.Workloads;

namespace Svg2.Tests.Cuda;

public class BenchmarkShapeTests
{
    [Theory]
    [InlineData("wan-14b-720p", 40, 75_600, 300)]
    [InlineData("WAN-1.3B-480P", 12, 32_760, 200)]
    [InlineData("hunyuan-480p", 24, 44_806, 200)]
    [InlineData("cosmos-720p", 40, 56_320, 400)]
    public void Find_GivesTheModelGeometryByNameWithTheReferenceClusterCounts(string name, int heads, int tokens, int queryClusters)
    {
        var shape = BenchmarkShape.Find(name);
        Assert.Equal((heads, tokens, queryClusters), (shape.Heads, shape.Tokens, shape.QueryClusters));
    }

    [Theory]
    [InlineData("small")]
    [InlineData("tiny")]
    public void Find_TakesTheOtherWorkloadShapesWithTheScaledDefaultClusterCounts(string name)
    {
        var workload = VideoShape.FromName(name);
        var shape = BenchmarkShape.Find(name);
        int video = workload.Frames * workload.Height * workload.Width;
        var (queryClusters, keyClusters) = new Svg2Options().ClusterCountsFor(video);
        Assert.Equal(workload.Heads, shape.Heads);
        Assert.Equal(workload.HeadDim, shape.HeadDim);
        Assert.Equal(video + workload.TextTokens, shape.Tokens);
        Assert.Equal(workload.TextTokens, shape.TextRows);
        Assert.Equal((queryClusters, keyClusters), (shape.QueryClusters, shape.KeyClusters));
        Assert.True(shape.QueryClusters <= video && shape.KeyClusters <= video);
    }

    [Fact]
    public void Find_NamesBothSetsOfNamesForAnUnknownShape()
    {
        var error = Assert.Throws<ArgumentException>(() => BenchmarkShape.Find("wan-8k"));
        Assert.Contains("wan-14b-720p", error.Message);
        Assert.Contains("small", error.Message);
    }
}
