using Svg2.Algorithm;

namespace Svg2.Tests.Algorithm;

/// <summary><see cref="DensityBisection.Bisect"/>, the search shared by the method sweeps and the operator's target density.</summary>
public class DensityBisectionTests
{
    [Fact]
    public void FindsTheParameterOfAMonotoneDensity()
    {
        int evaluations = 0;
        var probe = DensityBisection.Bisect(p => { evaluations++; return p * p; }, 0, 1, 0.25, 30);
        Assert.True(probe.WithinTolerance);
        Assert.InRange(probe.Density, 0.25 * (1 - DensityBisection.RelativeTolerance), 0.25 * (1 + DensityBisection.RelativeTolerance));
        Assert.InRange(probe.Parameter, 0.49, 0.51);
        Assert.True(evaluations <= 30);
    }

    [Fact]
    public void ReturnsTheClosestProbeWhenTheTargetSitsInAJump()
    {
        // A step function: 0.1 below 0.5, 0.6 from 0.5 on; the target 0.3 is closer to 0.1.
        var probe = DensityBisection.Bisect(p => p < 0.5 ? 0.1 : 0.6, 0, 1, 0.3, 30);
        Assert.False(probe.WithinTolerance);
        Assert.Equal(0.1, probe.Density);
        Assert.True(probe.Parameter < 0.5);
    }

    [Fact]
    public void StopsAtTheStepLimit()
    {
        int evaluations = 0;
        DensityBisection.Bisect(p => { evaluations++; return p < 0.5 ? 0.1 : 0.6; }, 0, 1, 0.3, 7);
        Assert.Equal(7, evaluations);
    }

    [Theory]
    [InlineData(0.0, 10)]
    [InlineData(1.1, 10)]
    [InlineData(0.5, 0)]
    public void RejectsBadArguments(double target, int steps) =>
        Assert.Throws<ArgumentException>(() => DensityBisection.Bisect(p => p, 0, 1, target, steps));
}
