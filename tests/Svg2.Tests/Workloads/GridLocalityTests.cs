using Svg2.Algorithm;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Statistics;
using static TorchSharp.torch;

namespace Svg2.Tests.Workloads;

public class GridLocalityTests
{
    [Fact]
    public void ClusterSpreadIsTheDistanceFromTheClusterMeanPosition()
    {
        var grid = new TokenGrid(1, 1, 4);
        // Head 0: two runs of consecutive tokens (w 0,1 and w 2,3), each half a token from its mean.
        // Head 1: the ends (w 0,3, 1.5 from their mean) and the middle (w 1,2, 0.5 from theirs).
        using var labels = tensor(new long[] { 0, 0, 1, 1, 0, 1, 1, 0 }, [2, 4]);
        var spread = ClusterSpread.Measure(labels, grid);
        Assert.Equal(0.5, spread.MeanDistance[0], 12);
        Assert.Equal(1.0, spread.MeanDistance[1], 12);
        Assert.All(spread.MeanClusterSize, size => Assert.Equal(2.0, size, 12));
    }

    [Fact]
    public void ClusterSpreadMeasuresEveryAxisInTokens()
    {
        // One cluster of the whole 2 x 1 x 2 grid: every token is sqrt(0.25 + 0.25) from the centre.
        using var labels = zeros([1, 4], ScalarType.Int64);
        var spread = ClusterSpread.Measure(labels, new TokenGrid(2, 1, 2));
        Assert.Equal(Math.Sqrt(0.5), spread.MeanDistance[0], 12);
        Assert.Equal(4.0, spread.MeanClusterSize[0], 12);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(0, 2)]
    public void UniformAttentionPutsTheNeighbourShareOfTheMassOnNeighbours(int frames, int spatial)
    {
        var grid = new TokenGrid(3, 4, 5);
        var neighbourhood = new GridNeighbourhood(frames, spatial);
        // Zero queries attend every key equally, so the local share is the neighbour count over S.
        using var q = zeros([2, grid.Tokens, 8]);
        using var k = TestTensors.Normal(3, [2, grid.Tokens, 8]);
        var locality = AttentionLocality.Measure(q, k, grid, neighbourhood);

        double expected = 0;
        for (int t = 0; t < grid.Frames; t++)
        for (int h = 0; h < grid.Height; h++)
        for (int w = 0; w < grid.Width; w++)
            expected += Neighbours(t, grid.Frames, frames) * Neighbours(h, grid.Height, spatial) * Neighbours(w, grid.Width, spatial) / (double)grid.Tokens;
        expected /= grid.Tokens;
        Assert.All(locality.LocalShare, share => Assert.Equal(expected, share, 6));
        Assert.Null(locality.LocalRecall);
    }

    [Fact]
    public void APatternOfEveryKeyKeepsAllTheMassAndOneOfNoKeyNone()
    {
        var grid = new TokenGrid(2, 3, 4);
        using var q = TestTensors.Normal(5, [1, grid.Tokens, 8]);
        using var k = TestTensors.Normal(6, [1, grid.Tokens, 8]);
        using var labels = zeros([1, grid.Tokens], ScalarType.Int64);
        foreach (bool keep in new[] { true, false })
        {
            using var mask = full([1, 1, 1], keep);
            var pattern = new BlockSparsity(labels, labels, mask);
            var locality = AttentionLocality.Measure(q, k, grid, new GridNeighbourhood(1, 1), pattern, sampleRows: 10, seed: 2);
            Assert.Equal(10, locality.RowsMeasured);
            Assert.Equal(keep ? 1.0 : 0.0, locality.LocalRecall![0], 6);
            Assert.Equal(keep ? 1.0 : 0.0, locality.FarRecall![0], 6);
        }
    }

    static int Neighbours(int at, int extent, int radius) => Math.Min(extent - 1, at + radius) - Math.Max(0, at - radius) + 1;
}
