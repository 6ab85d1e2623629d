namespace Svg2.Algorithm;

/// <summary>
/// The keys a sampled routing probe attends: at most m of each key cluster's n_b keys, spread evenly over the
/// cluster's rows in layout order, each standing for n_b / m_b keys through a log-weight added to its logit.
/// </summary>
/// <remarks>
/// The probe's cost is a pass of the mean rows over every key; a sample of m keys per cluster bounds it by
/// QC x m x KC whatever the sequence length. The mean-row softmax over the weighted sample estimates the full one:
/// each sampled key carries its cluster's share of the mass, so the normaliser and the per-block sums are unbiased
/// for keys spread evenly inside each cluster. The mean values and sizes the compensation uses stay exact.
/// </remarks>
/// <param name="Rows">Positions in the cluster-contiguous (permuted) order of the sampled keys, cluster by cluster.</param>
/// <param name="Offsets">KC + 1 offsets of each cluster's sampled keys in <paramref name="Rows"/>.</param>
/// <param name="LogWeights">ln(n_b / m_b) of each sampled key (0 where the whole cluster is kept).</param>
public sealed record ProbeKeySample(long[] Rows, long[] Offsets, float[] LogWeights)
{
    /// <summary>Samples at most <paramref name="perCluster"/> keys of each cluster of one head's layout offsets [KC + 1].</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="perCluster"/> is below 1.</exception>
    public static ProbeKeySample Of(ReadOnlySpan<long> offsets, int perCluster)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perCluster, 1);
        var rows = new List<long>();
        var weights = new List<float>();
        var sampledOffsets = new long[offsets.Length];
        for (int b = 0; b + 1 < offsets.Length; b++)
        {
            long start = offsets[b], size = offsets[b + 1] - start, kept = Math.Min(size, perCluster);
            for (long i = 0; i < kept; i++)
            {
                // The centre of the i-th of kept equal parts of the cluster's rows.
                rows.Add(start + (2 * i + 1) * size / (2 * kept));
                weights.Add((float)Math.Log((double)size / kept));
            }
            sampledOffsets[b + 1] = rows.Count;
        }
        return new ProbeKeySample([.. rows], sampledOffsets, [.. weights]);
    }
}
