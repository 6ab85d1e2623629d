using Svg2.Evaluation.Benchmarks;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Cuda;

public class TailPairingTests
{
    const int Tile = 64;

    static double[,] Shared(int clusters, params (int A, int B, double Keys)[] pairs)
    {
        var shared = new double[clusters, clusters];
        foreach (var (a, b, keys) in pairs) (shared[a, b], shared[b, a]) = (keys, keys);
        return shared;
    }

    [Fact]
    public void TwoSmallTailsWithTheSameKeysShareOneTile() =>
        Assert.Equal(Tile * 100.0, TailPairing.PairedWork([10, 20], [100, 100], Shared(2, (0, 1, 100)), Tile));

    [Fact]
    public void TailsWithNoKeyInCommonKeepTilesOfTheirOwn() =>
        Assert.Equal(Tile * (100.0 + 300.0), TailPairing.PairedWork([10, 20], [100, 300], Shared(2), Tile));

    [Fact]
    public void TailsThatDoNotFitOneTileTogetherArePaddedAlone() =>
        Assert.Equal(2 * Tile * 100.0, TailPairing.PairedWork([40, 40], [100, 100], Shared(2, (0, 1, 100)), Tile));

    [Fact]
    public void WholeTilesCountTheirRowsOnlyAndATailComputesTheUnionOfBothClustersKeys()
    {
        // 128 + 10 rows with 100 keys and 128 + 30 rows with 80 keys, 50 of them shared: the tails' tile computes
        // 100 + 80 - 50 keys.
        double expected = 128 * 100.0 + 128 * 80.0 + Tile * (100.0 + 80.0 - 50.0);
        Assert.Equal(expected, TailPairing.PairedWork([138, 158], [100, 80], Shared(2, (0, 1, 50)), Tile));
    }

    [Fact]
    public void ThePairSharingTheMostKeysIsTakenFirst()
    {
        // Cluster 2 shares 90 keys with cluster 0 and cluster 1 only 10: clusters 0 and 2 pair, cluster 1 stays alone.
        double expected = Tile * (100.0 + 95.0 - 90.0) + Tile * 50.0;
        Assert.Equal(expected, TailPairing.PairedWork([5, 30, 20], [100, 50, 95], Shared(3, (0, 1, 10), (0, 2, 90), (1, 2, 5)), Tile));
        Assert.Equal([2, -1, 0], TailPairing.Partners([5, 30, 20], Shared(3, (0, 1, 10), (0, 2, 90), (1, 2, 5)), Tile));
    }

    [Fact]
    public void AClusterTakenByABetterPairLeavesItsOtherPartnerToTheNextBest()
    {
        // (1, 2) shares the most; 0 would have preferred 1 and takes 3, the best left.
        var shared = Shared(4, (0, 1, 50), (1, 2, 60), (0, 3, 20), (2, 3, 40));
        Assert.Equal([3, 2, 1, 0], TailPairing.Partners([10, 10, 10, 10], shared, Tile));
    }

    [Fact]
    public void EqualSharesPairTheLowerClustersFirst() =>
        Assert.Equal([1, 0, -1], TailPairing.Partners([10, 10, 10], Shared(3, (0, 1, 7), (0, 2, 7), (1, 2, 7)), Tile));

    [Fact]
    public void ClustersOfWholeTilesHaveNoTailToPair() =>
        Assert.Equal([-1, -1], TailPairing.Partners([Tile, 10], Shared(2, (0, 1, 100)), Tile));

    [Fact]
    public void ARemainderOfMoreThanAHalfKeepsItsTile()
    {
        // 100 rows: one 128-row tile, its second half partly filled; pairing its last 36 rows would add a split tile.
        Assert.Equal([-1, -1], TailPairing.Partners([100, 10], Shared(2, (0, 1, 100)), Tile));
        Assert.Equal(0, TailPairing.Tail(100, Tile));
        Assert.Equal(36, TailPairing.Tail(164, Tile));   // 128 + 36
        Assert.Equal(0, TailPairing.Tail(256, Tile));
    }

    [Fact]
    public void OnRandomClustersThePairedWorkLiesBetweenTheUsefulAndTheUnpairedWork()
    {
        var random = new Random(20261206);
        for (int trial = 0; trial < 50; trial++)
        {
            int clusters = random.Next(1, 40), keyClusters = random.Next(1, 30);
            var keySizes = Enumerable.Range(0, keyClusters).Select(_ => (double)random.Next(1, 200)).ToArray();
            var selected = Enumerable.Range(0, clusters).Select(_ => Enumerable.Range(0, keyClusters).Select(_ => random.NextDouble() < 0.3).ToArray()).ToArray();
            long[] rows = Enumerable.Range(0, clusters).Select(_ => (long)random.Next(0, 400)).ToArray();
            double[] keys = selected.Select(s => s.Select((on, c) => on ? keySizes[c] : 0).Sum()).ToArray();
            var shared = new double[clusters, clusters];
            for (int a = 0; a < clusters; a++)
                for (int b = 0; b < clusters; b++)
                    shared[a, b] = Enumerable.Range(0, keyClusters).Where(c => selected[a][c] && selected[b][c]).Sum(c => keySizes[c]);

            double useful = rows.Select((r, i) => r * keys[i]).Sum();
            double unpaired = rows.Select((r, i) => Math.Ceiling(r / (double)Tile) * Tile * keys[i]).Sum();
            double paired = TailPairing.PairedWork(rows, keys, shared, Tile);
            Assert.InRange(paired, useful - 1e-9, unpaired + 1e-9);
        }
    }

    [Fact]
    public void OverASelectionItSumsEveryProblemWithTheSharedKeysFromTheMask()
    {
        // Problem 0: both clusters select key cluster 0 (7 keys) and cluster 1 also key cluster 1 (5 keys): 7 shared.
        // Problem 1: no key cluster in common.
        using var rows = tensor(new long[] { 10, 20, 70, 30 }, [2, 2]);
        using var keys = tensor(new double[] { 7, 12, 5, 7 }, [2, 2]);
        using var mask = tensor(new[] { true, false, true, true, false, true, true, false }, [2, 2, 2]);
        using var keySizes = tensor(new long[] { 7, 5, 7, 5 }, [2, 2]);
        double problem0 = Tile * (7.0 + 12.0 - 7.0);
        double problem1 = Tile * 5.0 + Tile * 5.0 + Tile * 7.0;   // 70 rows: a whole tile and a tail; 30 rows: a tail
        Assert.Equal(problem0 + problem1, TailPairing.PairedWork(rows, keys, mask, keySizes, Tile));
    }

    [Fact]
    public void MismatchedInputsAreRefusedWithTheirSizes()
    {
        var error = Assert.Throws<ArgumentException>(() => TailPairing.PairedWork([10, 20], [100], Shared(2), Tile));
        Assert.Contains("2 row counts but 1 key counts", error.Message);
        error = Assert.Throws<ArgumentException>(() => TailPairing.PairedWork([10, 20], [100, 100], Shared(3), Tile));
        Assert.Contains("[3, 3]; expected [2, 2]", error.Message);
        error = Assert.Throws<ArgumentException>(() => TailPairing.Partners([10, -1], Shared(2), Tile));
        Assert.Contains("Cluster 1 has -1 rows", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => TailPairing.PairedWork([10], [100], Shared(1), 0));
    }
}
