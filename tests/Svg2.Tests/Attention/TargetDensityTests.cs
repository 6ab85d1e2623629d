using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Configuration;
using Svg2.Evaluation.Statistics;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention;

/// <summary><see cref="Svg2Options.TargetDensity"/> on the reference backend: searched per layer on its first sparse call, then reused.</summary>
public class TargetDensityTests
{
    // Enough clusters that one (query cluster, key cluster) pair moves the mean density by far less than the tolerance.
    static readonly Svg2Options Options = new()
    {
        QueryClusters = 16, KeyClusters = 64, MinKeyClusterRatio = 0.1, InitIterations = 4, StepIterations = 1, ScaleClusterCounts = false,
    };

    static (Tensor Q, Tensor K, Tensor V) Inputs(int seed) =>
        (TestTensors.Normal(seed, [1, 2, 1024, 16]) * 2, TestTensors.Normal(seed + 1, [1, 2, 1024, 16]) * 2, TestTensors.Normal(seed + 2, [1, 2, 1024, 16]));

    static double MeanDensity(Svg2Result result) => result.DensityPerHead().Average();

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.05)] // below the 10% minimum kept ratio: the floor is lowered so top-p still decides
    public void FirstCallReachesTheTargetWithinTolerance(double target)
    {
        var (q, k, v) = Inputs(100);
        using var state = new Svg2LayerState();
        using var result = new Svg2Attention(Options with { TargetDensity = target }).Forward(q, k, v, state);
        double density = MeanDensity(result);
        Assert.InRange(density, target * (1 - DensityBisection.RelativeTolerance), target * (1 + DensityBisection.RelativeTolerance));
        Assert.Equal(state.ChosenTopP, result.TopP);
        Assert.InRange(result.TopP, 0, 1);
    }

    [Fact]
    public void ChosenTopPIsStoredPerLayerAndReusedUntilReset()
    {
        var attention = new Svg2Attention(Options with { TargetDensity = 0.25 });
        using var first = new Svg2LayerState();
        using var second = new Svg2LayerState();
        var (q, k, v) = Inputs(200);
        using (var result = attention.Forward(q, k, v, first)) Assert.Equal(first.ChosenTopP, result.TopP);
        double chosen = first.ChosenTopP!.Value;

        // A later call of the layer keeps the chosen top-p, whatever density it now gives.
        var (q2, k2, v2) = Inputs(300);
        using (var later = attention.Forward(q2, k2, v2, first)) Assert.Equal(chosen, later.TopP);
        Assert.Equal(chosen, first.ChosenTopP);

        // Another layer searches its own.
        Assert.Null(second.ChosenTopP);
        using (var other = attention.Forward(q2, k2, v2, second))
        {
            Assert.Equal(second.ChosenTopP, other.TopP);
            Assert.InRange(MeanDensity(other), 0.25 * (1 - DensityBisection.RelativeTolerance), 0.25 * (1 + DensityBisection.RelativeTolerance));
        }

        first.Reset();
        Assert.Null(first.ChosenTopP);
        using (var again = attention.Forward(q2, k2, v2, first)) Assert.Equal(first.ChosenTopP, again.TopP);
        Assert.Equal(second.ChosenTopP, first.ChosenTopP);
    }

    [Fact]
    public void AKeptTopPIsSearchedAgainWhenItsDensityDrifts()
    {
        // Attention sharpening call by call (q scaled by 1.25 each call, as attention settles over denoising): the
        // top-p kept from the first call gives ever lower densities, until the check every few calls searches again.
        const double Target = 0.25;
        var attention = new Svg2Attention(Options with { TargetDensity = Target });
        using var state = new Svg2LayerState();
        var (q, k, v) = Inputs(600);
        var densities = new List<double>();
        var topPs = new List<double>();
        for (int call = 0; call <= Svg2Attention.BudgetCheckInterval; call++)
        {
            using var result = attention.Forward(q * Math.Pow(1.25, call), k, v, state);
            densities.Add(MeanDensity(result));
            topPs.Add(result.TopP);
        }
        double reached = densities[0];
        Assert.True(densities.Skip(1).SkipLast(1).Any(d => Math.Abs(d / reached - 1) > Svg2Attention.BudgetDriftTolerance),
            $"the kept top-p should drift on this input: densities {string.Join(", ", densities.Select(d => d.ToString("P1")))}");
        Assert.All(topPs.Skip(1).SkipLast(1), p => Assert.Equal(topPs[0], p));
        // The check call (the interval's count of calls after the search) searched again and is back at the target.
        Assert.NotEqual(topPs[0], topPs[^1]);
        Assert.InRange(densities[^1], Target * (1 - DensityBisection.RelativeTolerance), Target * (1 + DensityBisection.RelativeTolerance));
        Assert.Equal(state.ChosenTopP, topPs[^1]);
    }

    [Fact]
    public void WithoutATargetTheConfiguredTopPIsUsedAndNothingIsStored()
    {
        var (q, k, v) = Inputs(400);
        using var state = new Svg2LayerState();
        using var result = new Svg2Attention(Options with { TopP = 0.8 }).Forward(q, k, v, state);
        Assert.Equal(0.8, result.TopP);
        Assert.Null(state.ChosenTopP);
    }

    [Fact]
    public void RefiningCentroidsDoesNotChooseATopP()
    {
        var (q, k, _) = Inputs(500);
        using var state = new Svg2LayerState();
        new Svg2Attention(Options with { TargetDensity = 0.2 }).RefineCentroids(q, k, state);
        Assert.Equal(1, state.Calls);
        Assert.Null(state.ChosenTopP);
    }

    [Fact]
    public void QualityStatisticsSeeTheTargetedSelection()
    {
        var (q, k, v) = Inputs(600);
        using var state = new Svg2LayerState();
        var probe = new QualityProbe(sampleRows: 64);
        using var result = new Svg2Attention(Options with { TargetDensity = 0.2 }).Forward(q, k, v, state, qualityProbe: probe);
        Assert.NotNull(probe.Quality);
        Assert.InRange(MeanDensity(result), 0.2 * (1 - DensityBisection.RelativeTolerance), 0.2 * (1 + DensityBisection.RelativeTolerance));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void InvalidTargetsAreRejectedByName(double target)
    {
        var error = Assert.Throws<ArgumentException>(() => new Svg2Attention(Options with { TargetDensity = target }));
        Assert.Contains("TargetDensity", error.Message);
        Assert.Contains("(0, 1]", error.Message);
    }

    [Fact]
    public void ATargetOfOneIsValid() => (Options with { TargetDensity = 1.0 }).Validate();
}
