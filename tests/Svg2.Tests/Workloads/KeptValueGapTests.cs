using Svg2.Algorithm;
using Svg2.Evaluation.Statistics;
using static TorchSharp.torch;

namespace Svg2.Tests.Workloads;

public class KeptValueGapTests
{
    [Fact]
    public void DroppedMassTimesTheValueGapIsTheUncompensatedError()
    {
        const long groups = 2, tokens = 48, dim = 8;
        using var q = TestTensors.Normal(11, [groups, tokens, dim]);
        using var k = TestTensors.Normal(12, [groups, tokens, dim]);
        using var v = TestTensors.Normal(13, [groups, tokens, dim]);
        using var queryLabels = TestTensors.LabelsWithEmptyClusters(14, groups, tokens, 4);
        using var keyLabels = TestTensors.LabelsWithEmptyClusters(15, groups, tokens, 6);
        // A random block mask with one query block keeping no key block, so rows that keep nothing are covered too.
        using var generator = TestTensors.Seeded(16);
        using var lastBlockKeepsNothing = tensor(new[] { true, true, true, false }, [1, 4, 1]);
        using var mask = rand([groups, 4, 6], generator: generator).lt(0.5).logical_and(lastBlockKeepsNothing);
        var pattern = new BlockSparsity(queryLabels, keyLabels, mask);
        using var rows = arange(tokens, ScalarType.Int64);
        using var unused = zeros(groups, tokens, tokens);
        using var allowed = pattern.Allowed(rows, unused);
        using var sparse = TestTensors.MaskedAttention64(q, k, v, allowed, 1.0 / Math.Sqrt(dim));

        var measured = AttentionQuality.Measure(q, k, v, sparse, pattern);
        var gap = KeptValueGap.Measure(q, k, v, pattern);
        for (int g = 0; g < groups; g++)
        {
            Assert.InRange(measured.RelativeError[g], 0.05, 10);
            Assert.Equal(measured.RelativeError[g], gap.ImpliedError[g], 5);
            Assert.Equal(1 - measured.Recall[g], gap.DroppedMass[g], 5);
            Assert.True(gap.ValueGap[g] > 0);
        }
    }

    [Fact]
    public void HalfTheMassOnEachPairOfValuesGivesTheirMeansGap()
    {
        // A zero query attends four keys equally; the pattern keeps values 1 and 3 and drops 5 and 7:
        // r = 1/2, m_K = 2, m_D = 6, o = 4, so the gap is 4 / 4 and the error (1/2) 4 / 4.
        using var q = zeros([1, 1, 2]);
        using var k = TestTensors.Normal(3, [1, 4, 2]);
        using var v = tensor(new float[] { 1, 3, 5, 7 }, [1, 4, 1]);
        using var queryLabels = zeros([1, 1], ScalarType.Int64);
        using var keyLabels = tensor(new long[] { 0, 0, 1, 1 }, [1, 4]);
        using var mask = tensor(new[] { true, false }, [1, 1, 2]);
        var gap = KeptValueGap.Measure(q, k, v, new BlockSparsity(queryLabels, keyLabels, mask));
        Assert.Equal(0.5, gap.DroppedMass[0], 6);
        Assert.Equal(1.0, gap.ValueGap[0], 6);
        Assert.Equal(0.5, gap.ImpliedError[0], 6);
    }

    [Fact]
    public void APatternOfEveryKeyDropsNothing()
    {
        using var q = TestTensors.Normal(5, [2, 20, 8]);
        using var k = TestTensors.Normal(6, [2, 20, 8]);
        using var v = TestTensors.Normal(7, [2, 20, 8]);
        using var labels = zeros([2, 20], ScalarType.Int64);
        using var mask = full([2, 1, 1], true);
        var gap = KeptValueGap.Measure(q, k, v, new BlockSparsity(labels, labels, mask), sampleRows: 10, seed: 2);
        Assert.Equal(10, gap.RowsMeasured);
        Assert.All(gap.DroppedMass, mass => Assert.Equal(0.0, mass, 12));
        Assert.All(gap.ImpliedError, error => Assert.Equal(0.0, error, 12));
        // No row drops mass, so no row has a dropped mean to measure a gap from.
        Assert.All(gap.ValueGap, value => Assert.Equal(0.0, value, 12));
    }
}
