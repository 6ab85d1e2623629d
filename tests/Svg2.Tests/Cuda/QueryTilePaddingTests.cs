using Svg2.Evaluation.Benchmarks;
using static TorchSharp.torch;

namespace Svg2.Tests.Cuda;

public class QueryTilePaddingTests
{
    [Fact]
    public void TwoSmallClustersWithTheSameKeysArePaddedToTilesToHalvesAndShareOneHalf()
    {
        // One problem: clusters of 10 and 20 rows both select the only key cluster, 7 keys.
        using var rows = tensor(new long[] { 10, 20 }, [1, 2]);
        using var keys = tensor(new double[] { 7, 7 }, [1, 2]);
        using var mask = tensor(new[] { true, true }, [1, 2, 1]);
        using var keySizes = tensor(new long[] { 7 }, [1, 1]);
        double useful = 30 * 7.0;
        var padding = QueryTilePadding.Of(rows, keys, mask, keySizes);
        Assert.Equal(2 * QueryTilePadding.TileRows * 7.0 / useful - 1, padding.Tiles, 12);
        Assert.Equal(2 * QueryTilePadding.HalfRows * 7.0 / useful - 1, padding.Halves, 12);
        Assert.Equal(QueryTilePadding.HalfRows * 7.0 / useful - 1, padding.SharedHalves, 12);
    }
}
