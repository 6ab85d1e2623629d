using Svg2.Cli.Commands;
using Svg2.Configuration;
using Svg2.Evaluation.Benchmarks;
using Svg2.Evaluation.Workloads;
using Svg2.Models.Wan;

namespace Svg2.Tests.Configuration;

/// <summary>
/// The shape registries are one chain (model geometry, then workload, then benchmark shape): wherever two of
/// them give the same model and resolution, they agree on its sizes and cluster counts.
/// </summary>
public class ShapeRegistryTests
{
    public static TheoryData<string> GeometryNames() => [.. ModelGeometries.All.Select(g => g.Name)];

    [Theory]
    [MemberData(nameof(GeometryNames))]
    public void WorkloadAndBenchmarkShapesAgreeWithTheGeometry(string name)
    {
        var geometry = ModelGeometries.Find(name)!;
        var workload = VideoShape.FromName(name);
        Assert.Equal((geometry.LatentFrames, geometry.TokensHigh, geometry.TokensWide, geometry.Heads, geometry.HeadDim, geometry.TextTokens),
            (workload.Frames, workload.Height, workload.Width, workload.Heads, workload.HeadDim, workload.TextTokens));
        Assert.Equal(geometry.SequenceLength, workload.SequenceLength);

        var bench = BenchmarkShape.Find(name);
        Assert.Equal((geometry.Heads, geometry.SequenceLength, geometry.HeadDim, geometry.TextTokens, workload.PromptLength),
            (bench.Heads, bench.Tokens, bench.HeadDim, bench.TextRows, bench.PromptRows));
        Assert.Equal((geometry.QueryClusters, geometry.KeyClusters), (bench.QueryClusters, bench.KeyClusters));
    }

    [Fact]
    public void EveryPresetRunsItsGeometrysClusterCountsAndEveryBenchmarkPresetIsAGeometry()
    {
        foreach (var preset in Svg2Presets.All)
        {
            Assert.Contains(preset.Geometry, ModelGeometries.All);
            Assert.Equal((preset.Geometry.QueryClusters, preset.Geometry.KeyClusters), (preset.Options.QueryClusters, preset.Options.KeyClusters));
        }
        foreach (var shape in BenchmarkShape.Presets)
            Assert.Equal(BenchmarkShape.Of(ModelGeometries.Find(shape.Name)!), shape);
    }

    [Theory]
    [InlineData("480p", "1.3b", "wan-1.3b-480p", 200)]
    [InlineData("720p", "14b", "wan-14b-720p", 300)]
    public void BenchModelSizesAreTheWanGeometriesAndTheBenchmarksClusterCounts(string shape, string model, string geometryName, int queryClusters)
    {
        var geometry = BenchModelCommand.GeometryFor(shape)!;
        var config = WanConfig.Named(model);
        var bench = BenchmarkShape.Find(geometryName);
        Assert.Equal(geometryName, geometry.Name);
        Assert.Equal(queryClusters, geometry.QueryClusters);
        Assert.Equal((geometry.QueryClusters, geometry.KeyClusters), (bench.QueryClusters, bench.KeyClusters));
        Assert.Equal((config.Heads, config.HeadDim, config.Layers), (geometry.Heads, geometry.HeadDim, geometry.Layers));
        var (frames, height, width) = BenchModelCommand.LatentSize(shape, config);
        Assert.Equal(bench.VideoTokens, frames / config.PatchSize.Frames * (height / config.PatchSize.Height) * (width / config.PatchSize.Width));
    }

    [Fact]
    public void TheWanModelsAgreeWithTheirGeometries()
    {
        foreach (var (model, geometry) in new[] { ("14b", ModelGeometries.Wan14B720p), ("i2v-14b", ModelGeometries.WanI2V720p), ("i2v-14b", ModelGeometries.WanI2V480p) })
        {
            var config = WanConfig.Named(model);
            Assert.Equal((config.Heads, config.HeadDim, config.Layers), (geometry.Heads, geometry.HeadDim, geometry.Layers));
        }
    }
}
