using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// Measures how peaked attention is, head by head: for a seeded sample of queries, how many keys
/// hold a given share (typically 90 %) of each query's softmax(q k^T * scale) mass. Works on any
/// q, k [B, heads, S, D]; the score rows are computed in chunks, never S x S.
/// </summary>
public static class AttentionMassProfile
{
    /// <summary>Profiles every head of <paramref name="q"/> and <paramref name="k"/>.</summary>
    /// <param name="q">Queries [B, heads, S, D].</param>
    /// <param name="k">Keys [B, heads, S, D] (same B, heads, D; any key count).</param>
    /// <param name="sampledQueries">Queries drawn per head (all of them when S is smaller).</param>
    /// <param name="seed">Seed of the query sample (the same sample serves every head).</param>
    /// <param name="mass">Share of the attention mass to cover, in (0, 1].</param>
    /// <param name="scale">Logit scale; 1/sqrt(D) when null.</param>
    /// <param name="maxChunkElements">Largest score block computed at once (rows x keys).</param>
    /// <returns>One entry per (batch, head), batch-major.</returns>
    public static IReadOnlyList<HeadMassStatistics> Compute(Tensor q, Tensor k, int sampledQueries = 512, int seed = 0,
        double mass = 0.9, double? scale = null, long maxChunkElements = 1L << 22)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        if (q.dim() != 4 || k.dim() != 4)
            throw new ArgumentException($"q and k must be [B, heads, S, D]; got [{string.Join(", ", q.shape)}] and [{string.Join(", ", k.shape)}].");
        if (q.shape[0] != k.shape[0] || q.shape[1] != k.shape[1] || q.shape[3] != k.shape[3])
            throw new ArgumentException($"q [{string.Join(", ", q.shape)}] and k [{string.Join(", ", k.shape)}] disagree in batch, heads or head dimension.");
        if (!q.is_floating_point() || !k.is_floating_point())
            throw new ArgumentException($"q and k must be floating point; got {q.dtype} and {k.dtype}.");
        if (q.device.type != k.device.type)
            throw new ArgumentException($"q is on {q.device} but k is on {k.device}.");
        if (sampledQueries <= 0) throw new ArgumentOutOfRangeException(nameof(sampledQueries), sampledQueries, "Sample at least one query.");
        if (mass is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(mass), mass, "Mass must be in (0, 1].");
        if (maxChunkElements <= 0) throw new ArgumentOutOfRangeException(nameof(maxChunkElements), maxChunkElements, "Chunk size must be positive.");

        long queries = q.shape[2], keys = k.shape[2];
        double logitScale = scale ?? 1.0 / Math.Sqrt(q.shape[3]);
        using var generator = new Generator((ulong)(uint)seed);
        var sample = queries <= sampledQueries
            ? Enumerable.Range(0, (int)queries).Select(i => (long)i).ToArray()
            : randperm(queries, generator: generator).narrow(0, 0, sampledQueries).sort().Values.data<long>().ToArray();
        long rowsPerChunk = Math.Max(1, maxChunkElements / keys);

        var result = new List<HeadMassStatistics>();
        for (int b = 0; b < q.shape[0]; b++)
        {
            for (int h = 0; h < q.shape[1]; h++)
            {
                using var scope = NewDisposeScope();
                var headKeys = k[b, h].to(ScalarType.Float32);
                var headQueries = q[b, h].index_select(0, tensor(sample, device: q.device)).to(ScalarType.Float32);
                var counts = new long[sample.Length];
                for (long start = 0; start < sample.Length; start += rowsPerChunk)
                {
                    using var chunkScope = NewDisposeScope();
                    long rows = Math.Min(rowsPerChunk, sample.Length - start);
                    var probabilities = (headQueries.narrow(0, start, rows).matmul(headKeys.t()) * logitScale)
                        .to(ScalarType.Float64).softmax(-1);
                    var cumulative = probabilities.sort(-1, descending: true).Values.cumsum(-1);
                    // The smallest n whose top-n weights reach the mass: one more than the prefixes still short of it.
                    var needed = ((cumulative < mass).sum(-1) + 1).clamp_max(keys).cpu().data<long>().ToArray();
                    Array.Copy(needed, 0, counts, start, rows);
                }

                result.Add(new HeadMassStatistics(b, h, keys, mass, sample, counts));
            }
        }

        return result;
    }
}
