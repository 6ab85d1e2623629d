using Svg2.Configuration;

namespace Svg2.Tests.Configuration;

public class PresetTests
{
    // Sequence lengths, dense steps and dense layers from the specification's tables 3.3 and 3.4.
    [Theory]
    [InlineData("wan-t2v-720p", 40, 75_600, 300, 50, 10, 1, false)]
    [InlineData("wan-i2v-720p", 40, 75_600, 300, 40, 14, 1, false)]
    [InlineData("wan-i2v-480p", 40, 31_941, 200, 40, 8, 1, true)]
    [InlineData("hunyuan-720p", 24, 119_056, 400, 50, 5, 1, true)]
    [InlineData("hunyuan-480p", 24, 44_806, 200, 50, 2, 0, true)]
    [InlineData("cosmos-720p", 40, 56_320, 400, 35, 10, 1, false)]
    public void PresetsReproduceTheSpecification(string name, int heads, int sequence, int queryClusters, int steps, int denseSteps, int denseLayers, bool zeroStepInit)
    {
        var preset = Svg2Presets.Get(name);
        Assert.Equal(heads, preset.Geometry.Heads);
        Assert.Equal(sequence, preset.Geometry.SequenceLength);
        Assert.Equal(queryClusters, preset.Options.QueryClusters);
        Assert.Equal(1000, preset.Options.KeyClusters);
        Assert.Equal(0.9, preset.Options.TopP);
        Assert.Equal(0.10, preset.Options.MinKeyClusterRatio);
        Assert.Equal((50, 2), (preset.Options.InitIterations, preset.Options.StepIterations));
        Assert.Equal(steps, preset.Steps);
        Assert.Equal(denseSteps, preset.Warmup.DenseSteps);
        Assert.Equal(denseLayers, preset.Warmup.DenseLayers);
        Assert.Equal(zeroStepInit, preset.Warmup.KMeansDuringWarmup);
        Assert.Equal(preset.Options.ClusterCountsFor(preset.Geometry.VideoTokens), (preset.Options.QueryClusters, 1000));
    }

    [Fact]
    public void UnknownPresetNamesTheKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => Svg2Presets.Get("wan-t2v-1080p"));
        Assert.Contains("hunyuan-720p", error.Message);
    }

    [Fact]
    public void WarmupPolicyIsDenseForFirstStepsAndLayersOnly()
    {
        var policy = Svg2Presets.WanT2V720p.Warmup;
        Assert.True(policy.IsDense(9, 39));
        Assert.True(policy.IsDense(49, 0));
        Assert.False(policy.IsDense(10, 1));
        Assert.False(DenseWarmupPolicy.None.IsDense(0, 0));
    }

    [Theory]
    [InlineData(300, 1000, 75_600, 300, 1000)]
    [InlineData(300, 1000, 4_096, 300, 1000)]
    [InlineData(300, 1000, 511, 63, 127)]
    [InlineData(300, 1000, 40, 5, 10)]
    [InlineData(300, 1000, 3, 1, 1)]
    public void ClusterCountsScaleDownOnShortSequences(int qc, int kc, long tokens, int expectedQc, int expectedKc) =>
        Assert.Equal((expectedQc, expectedKc), new Svg2Options { QueryClusters = qc, KeyClusters = kc }.ClusterCountsFor(tokens));

    [Theory]
    [InlineData(0, 10, 0.9, 0.1, 50, 2, "QueryClusters")]
    [InlineData(10, 0, 0.9, 0.1, 50, 2, "KeyClusters")]
    [InlineData(10, 10, 0.0, 0.1, 50, 2, "TopP")]
    [InlineData(10, 10, 1.5, 0.1, 50, 2, "TopP")]
    [InlineData(10, 10, double.NaN, 0.1, 50, 2, "TopP")]
    [InlineData(10, 10, 0.9, -0.1, 50, 2, "MinKeyClusterRatio")]
    [InlineData(10, 10, 0.9, 0.1, 0, 2, "InitIterations")]
    [InlineData(10, 10, 0.9, 0.1, 50, 0, "StepIterations")]
    public void InvalidOptionsAreNamed(int qc, int kc, double topP, double ratio, int init, int step, string named)
    {
        var options = new Svg2Options { QueryClusters = qc, KeyClusters = kc, TopP = topP, MinKeyClusterRatio = ratio, InitIterations = init, StepIterations = step };
        Assert.Contains(named, Assert.Throws<ArgumentException>(options.Validate).Message);
    }

    [Theory]
    [InlineData(-1e-4)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void ACompensationTailMassOutsideZeroToOneIsNamed(double tailMass) =>
        Assert.Contains("CompensationTailMass", Assert.Throws<ArgumentException>(new Svg2Options { CompensationTailMass = tailMass }.Validate).Message);

    [Fact]
    public void ExplicitClusterCountsLargerThanTheSequenceAreErrors()
    {
        var options = new Svg2Options { QueryClusters = 50, KeyClusters = 20, ScaleClusterCounts = false };
        Assert.Contains("QueryClusters (50)", Assert.Throws<ArgumentException>(() => options.ClusterCountsFor(40)).Message);
    }
}
