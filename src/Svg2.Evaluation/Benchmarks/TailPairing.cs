using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>
/// Which clusters' last, partial 64-row halves (their "tails") share one tile, the rule of the Hopper attention's
/// tile plan (tail_pairs.cu), and the work that saves. A tail is a cluster's rows past its whole 128-row tiles where
/// they fill less than a half (the clusters whose last tile is a split tile); two tails share a tile when their rows
/// fit one half together and the clusters select keys in common. The tile then computes the union of the two
/// clusters' keys (each row masked to its own cluster's), saving the shared keys once for every row of the half.
/// Pairs are taken greedily by shared keys, the most first (ties: the lower first cluster, then the lower second),
/// which is the matching the GPU's rounds of mutual best proposals find.
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
        var rowCounts = rows.to(ScalarType.Int64).cpu();
        var keyCounts = keys.to(ScalarType.Float64).cpu();
        var shared = SharedKeys(blockMask, keySizes);
        double work = 0;
        for (int g = 0; g < shared.Length; g++)
            work += PairedWork(rowCounts[g].data<long>().ToArray(), keyCounts[g].data<double>().ToArray(), shared[g], tileRows);
        return work;
    }

    /// <summary>
    /// The partners of a selection's query clusters, per problem: [G][QC], the partner's cluster id or -1 (see
    /// <see cref="Partners(IReadOnlyList{long}, double[,], int)"/>).
    /// </summary>
    public static int[][] Partners(Tensor rows, Tensor blockMask, Tensor keySizes, int tileRows)
    {
        using var scope = NewDisposeScope();
        var rowCounts = rows.to(ScalarType.Int64).cpu();
        var shared = SharedKeys(blockMask, keySizes);
        return [.. shared.Select((matrix, g) => Partners(rowCounts[g].data<long>().ToArray(), matrix, tileRows))];
    }

    /// <summary>
    /// Per problem, [QC, QC] the keys two query clusters both select: the block mask weighted by the key clusters'
    /// sizes, times the mask (exact in float64).
    /// </summary>
    public static double[][,] SharedKeys(Tensor blockMask, Tensor keySizes)
    {
        using var scope = NewDisposeScope();
        var mask = blockMask.to(ScalarType.Float64);
        var shared = mask.mul(keySizes.to(ScalarType.Float64).unsqueeze(1)).bmm(mask.transpose(1, 2)).cpu();
        int clusters = (int)shared.shape[1];
        var matrices = new double[shared.shape[0]][,];
        for (int g = 0; g < matrices.Length; g++)
        {
            var values = shared[g].contiguous().data<double>().ToArray();
            matrices[g] = new double[clusters, clusters];
            Buffer.BlockCopy(values, 0, matrices[g], 0, values.Length * sizeof(double));
        }
        return matrices;
    }

    /// <summary>
    /// Each query cluster's partner, or -1: the greedy matching of the clusters with a tail (<see cref="Tail"/>) over
    /// the pairs whose tails fit one half tile together and that share keys, the pairs sharing the most keys first
    /// (ties: the lower first cluster, then the lower second).
    /// </summary>
    /// <param name="rows">Rows of each query cluster.</param>
    /// <param name="sharedKeys">[QC, QC] keys selected by both clusters (symmetric, the diagonal unused).</param>
    /// <param name="tileRows">Rows of a half tile, a tail's unit.</param>
    public static int[] Partners(IReadOnlyList<long> rows, double[,] sharedKeys, int tileRows)
    {
        int clusters = rows.Count;
        if (sharedKeys.GetLength(0) != clusters || sharedKeys.GetLength(1) != clusters)
            throw new ArgumentException($"sharedKeys is [{sharedKeys.GetLength(0)}, {sharedKeys.GetLength(1)}]; expected [{clusters}, {clusters}].", nameof(sharedKeys));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tileRows);
        for (int i = 0; i < clusters; i++)
            if (rows[i] < 0) throw new ArgumentException($"Cluster {i} has {rows[i]} rows.", nameof(rows));

        var tails = rows.Select(count => Tail(count, tileRows)).ToArray();
        var edges = new List<(double Keys, int A, int B)>();
        for (int a = 0; a < clusters; a++)
            for (int b = a + 1; b < clusters; b++)
                if (tails[a] > 0 && tails[b] > 0 && tails[a] + tails[b] <= tileRows && sharedKeys[a, b] > 0)
                    edges.Add((sharedKeys[a, b], a, b));
        var partners = Enumerable.Repeat(-1, clusters).ToArray();
        foreach (var (_, a, b) in edges.OrderByDescending(e => e.Keys).ThenBy(e => e.A).ThenBy(e => e.B))
            if (partners[a] < 0 && partners[b] < 0) (partners[a], partners[b]) = (b, a);
        return partners;
    }

    /// <summary>
    /// A cluster's tail, the rows that may share a half tile of <paramref name="halfRows"/> rows: its rows past its whole
    /// tiles of two halves where they fill less than a half, else 0 (a longer remainder keeps its one tile, since pairing
    /// it would add a split tile, which runs below a whole tile's rate).
    /// </summary>
    public static long Tail(long rows, int halfRows) => rows % (2L * halfRows) < halfRows ? rows % halfRows : 0;

    /// <summary>
    /// Rows x keys the attention computes for one problem when every cluster's rows are rounded up to
    /// whole tiles of <paramref name="tileRows"/> rows and tails are paired as <see cref="Partners(IReadOnlyList{long}, double[,], int)"/> pairs them.
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
        var partners = Partners(rows, sharedKeys, tileRows);
        double work = 0;
        for (int i = 0; i < clusters; i++)
        {
            work += (rows[i] + tileRows - 1) / tileRows * (double)tileRows * keys[i];
            // A pair's tile computes the union of both clusters' keys: the shared ones once.
            if (partners[i] > i) work -= tileRows * sharedKeys[i, partners[i]];
        }
        return work;
    }
}
