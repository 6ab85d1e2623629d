using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Tests.Algorithm;

/// <summary>The light tail of per-row compensation: which blocks it takes, and how much mass it may hold.</summary>
public class CompensationTailTests
{
    const int Groups = 2, QueryClusters = 7, KeyClusters = 60;

    /// <summary>Log-weights spread over many decades, as peaked attention gives.</summary>
    static Tensor SpreadLogits(int seed) => TestTensors.Normal(seed, [Groups, QueryClusters, KeyClusters]).to(ScalarType.Float32) * 6;

    [Theory]
    [InlineData(1e-4)]
    [InlineData(1e-2)]
    [InlineData(0.3)]
    public void EveryBlockBelowTauOverKcOfItsQueryClustersMassIsInTheTailAndNoOther(double tailMass)
    {
        var logits = SpreadLogits(3);
        using var tail = CompensationTail.Of(logits, tailMass);
        var weights = logits.to(ScalarType.Float64).softmax(-1);
        double bound = tailMass / KeyClusters;
        var inTail = TestTensors.Bools(tail);
        var share = weights.data<double>().ToArray();
        Assert.Equal(share.Length, inTail.Length);
        for (int i = 0; i < share.Length; i++)
            // Blocks within float32 rounding of the bound may fall either way.
            if (Math.Abs(share[i] / bound - 1) > 1e-4) Assert.Equal(share[i] < bound, inTail[i]);
        // So the tail of each query cluster holds at most the share τ of its mass.
        var tailMassOfEachCluster = (weights * tail.to(ScalarType.Float64)).sum(-1);
        Assert.True(tailMassOfEachCluster.le(tailMass).all().item<bool>());
        Assert.True(tail.any().item<bool>() && tail.logical_not().any().item<bool>());
    }

    [Fact]
    public void ALargerTauTakesEveryBlockASmallerOneTakes()
    {
        var logits = SpreadLogits(5);
        using var small = CompensationTail.Of(logits, 1e-4);
        using var large = CompensationTail.Of(logits, 1e-2);
        Assert.True((small & large.logical_not()).any().item<bool>() == false);
        Assert.True(large.sum().item<long>() > small.sum().item<long>());
    }

    [Fact]
    public void EmptyClustersFallInTheTailAndNonFiniteWeightsNever()
    {
        var logits = SpreadLogits(7);
        logits[0, 0, 3] = tensor(float.NegativeInfinity);
        logits[0, 1, 4] = tensor(float.NaN);
        logits[1, 2] = full(KeyClusters, float.NegativeInfinity);
        using var tail = CompensationTail.Of(logits, 1e-3);
        Assert.True(tail[0, 0, 3].item<bool>());
        // A NaN weight leaves its whole query cluster without a tail (its total is NaN), as does a cluster of no weight at all.
        Assert.False(tail[0, 1].any().item<bool>());
        Assert.False(tail[1, 2].any().item<bool>());
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-1e-3)]
    [InlineData(double.NaN)]
    public void ATauOutsideTheOpenUnitIntervalIsRefused(double tailMass) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CompensationTail.Of(SpreadLogits(9), tailMass));

    [Fact]
    public void TheTailOfMeansTakesTheSizeWeightedCentroidScores()
    {
        const int Tokens = 40, Dim = 8, Clusters = 6;
        var q = TestTensors.Normal(11, [1, Tokens, Dim]) * 3;
        var k = TestTensors.Normal(12, [1, Tokens, Dim]) * 3;
        var v = TestTensors.Normal(13, [1, Tokens, Dim]);
        var queryLabels = TestTensors.LabelsWithEmptyClusters(14, 1, Tokens, Clusters);
        var keyLabels = TestTensors.LabelsWithEmptyClusters(15, 1, Tokens, Clusters, [2]);
        var means = ClusterMeans.Of(q, k, v, queryLabels, keyLabels, Clusters, Clusters);
        double scale = 1 / Math.Sqrt(Dim);
        var logits = means.QueryMeans.to(ScalarType.Float32).bmm(means.KeyMeans.to(ScalarType.Float32).transpose(1, 2)) * scale
                     + means.KeySizes.to(ScalarType.Float32).log().unsqueeze(1);
        using var tail = CompensationTail.Of(means, scale, 0.05);
        using var expected = CompensationTail.Of(logits, 0.05);
        Assert.True(tail.eq(expected).all().item<bool>());
        Assert.True(tail.select(2, 2).all().item<bool>());
    }
}
