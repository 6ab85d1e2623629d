using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>
/// An estimate of what query tiles shared between clusters could save, before any kernel does it: a
/// cluster's last, partial tile (its rows past the last whole tile, its "tail") shares one tile with
/// another cluster's tail when both fit, and that tile computes the union of the two clusters' keys
/// (each row masked to its own cluster's). Greedy, per problem: the tails that waste the most go first,
/// each paired with the unpaired tail that fits beside it and shares the most keys with it.
/// </summary>
public static class TailPairing
{
    /// <summary>
    /// <see cref="PairedWork(IReadOnlyList{long}, IReadOnlyList{double}, double[,], int)"/> summed over the problems of a
    /// selection: <paramref name="rows"/> [G, QC] cluster sizes, <paramref name="keys"/> [G, QC] selected keys,
    /// <paramref name="blockMask"/> [G, QC, KC] the selected blocks, <paramref name="keySizes"/> [G, KC] key cluster sizes.
    /// </summary>
    public static double PairedWork(Tensor rows, Tensor keys, Tensor blockMask, Tensor keySizes, int tileRows)
    {
        using var scope = NewDisposeScope();
        // Keys selected by both of two query clusters: the mask weighted by the key clusters' sizes, times the mask.
        var mask = blockMask.to(ScalarType.Float64);
        var shared = mask.mul(keySizes.to(ScalarType.Float64).unsqueeze(1)).bmm(mask.transpose(1, 2)).cpu();
        var rowCounts = rows.to(ScalarType.Int64).cpu();
        var keyCounts = keys.to(ScalarType.Float64).cpu();
        int clusters = (int)shared.shape[1];
        double work = 0;
        for (long g = 0; g < shared.shape[0]; g++)
        {
            var values = shared[g].contiguous().data<double>().ToArray();
            var matrix = new double[clusters, clusters];
            Buffer.BlockCopy(values, 0, matrix, 0, values.Length * sizeof(double));
            work += PairedWork(rowCounts[g].data<long>().ToArray(), keyCounts[g].data<double>().ToArray(), matrix, tileRows);
        }
        return work;
    }

    /// <summary>
    /// Rows x keys the attention computes for one problem when every cluster's rows are rounded up to
    /// whole tiles of <paramref name="tileRows"/> rows and tails are paired as above.
    /// </summary>
    /// <param name="rows">Rows of each query cluster.</param>
    /// <param name="keys">Keys each query cluster selected.</param>
    /// <param name="sharedKeys">[QC, QC] keys selected by both clusters (symmetric, the diagonal unused).</param>
    /// <param name="tileRows">Rows of a tile.</param>
    public static double PairedWork(IReadOnlyList<long> rows, IReadOnlyList<double> keys, double[,] sharedKeys, int tileRows)
    {
        int clusters = rows.Count;
        if (keys.Count != clusters)
            throw new ArgumentException($"{clusters} row counts but {keys.Count} key counts; both are one per query cluster.", nameof(keys));
        if (sharedKeys.GetLength(0) != clusters || sharedKeys.GetLength(1) != clusters)
            throw new ArgumentException($"sharedKeys is [{sharedKeys.GetLength(0)}, {sharedKeys.GetLength(1)}]; expected [{clusters}, {clusters}].", nameof(sharedKeys));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tileRows);

        double work = 0;
        var tails = new List<int>();
        for (int i = 0; i < clusters; i++)
        {
            if (rows[i] < 0) throw new ArgumentException($"Cluster {i} has {rows[i]} rows.", nameof(rows));
            work += rows[i] / tileRows * (double)tileRows * keys[i];
            if (rows[i] % tileRows != 0) tails.Add(i);
        }
        long Tail(int i) => rows[i] % tileRows;
        var paired = new bool[clusters];
        foreach (int i in tails.OrderByDescending(i => (tileRows - Tail(i)) * keys[i]).ThenBy(i => i))
        {
            if (paired[i]) continue;
            paired[i] = true;
            int partner = -1;
            foreach (int j in tails)
                if (!paired[j] && Tail(i) + Tail(j) <= tileRows && sharedKeys[i, j] > 0 && (partner < 0 || sharedKeys[i, j] > sharedKeys[i, partner]))
                    partner = j;
            if (partner < 0)
            {
                work += tileRows * keys[i];
                continue;
            }
            paired[partner] = true;
            work += tileRows * (keys[i] + keys[partner] - sharedKeys[i, partner]);
        }
        return work;
    }
}
