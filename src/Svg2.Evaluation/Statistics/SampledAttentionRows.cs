using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// The exact attention probabilities of sampled query rows, computed chunk by chunk so that the [G, chunk, Nk]
/// temporaries stay within <see cref="ChunkBudget"/> whatever the sequence length (shared by the row statistics).
/// </summary>
internal static class SampledAttentionRows
{
    /// <summary>All <paramref name="queries"/> rows, or a seeded sample of <paramref name="sampleRows"/> of them in ascending order, on <paramref name="device"/>.</summary>
    /// <param name="queries">Query rows there are.</param>
    /// <param name="sampleRows">How many to draw without replacement; null for all.</param>
    /// <param name="seed">Seed of the draw: the same seed draws the same rows for every statistic.</param>
    /// <param name="device">Where the row indices go.</param>
    public static Tensor Draw(long queries, long? sampleRows, long seed, Device device)
    {
        if (sampleRows is null || sampleRows.Value >= queries) return arange(queries, ScalarType.Int64, device);
        if (sampleRows.Value < 1) throw new ArgumentException($"The row sample must hold at least one row (got {sampleRows}).");
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        return randperm(queries, generator: generator).narrow(0, 0, sampleRows.Value).sort().Values.to(device);
    }

    /// <summary>A float64 [G] accumulator of zeros on <paramref name="device"/>, for per-head sums over the chunks.</summary>
    public static Tensor Sum(long groups, Device device) => zeros([groups], ScalarType.Float64, device);

    /// <summary>Per head, sqrt(<paramref name="squares"/>) / sqrt(<paramref name="referenceSquares"/>) on the host: a norm relative to the dense output's over the measured rows.</summary>
    public static double[] RelativeNorm(Tensor squares, Tensor referenceSquares) =>
        (squares.sqrt() / referenceSquares.sqrt().clamp_min(1e-30)).cpu().data<double>().ToArray();

    /// <summary>
    /// Calls <paramref name="visit"/> with each chunk of <paramref name="rows"/> and its softmax probabilities
    /// [G, chunk, Nk] (float32, scale 1/sqrt(D)), inside a dispose scope of the chunk's own.
    /// </summary>
    /// <param name="q">[G, Nq, D].</param>
    /// <param name="k">[G, Nk, D].</param>
    /// <param name="rows">[R] int64 query rows on q's device.</param>
    /// <param name="temporaries">How many float32 [G, chunk, Nk] tensors live at once in a visit, the probabilities included.</param>
    /// <param name="visit">Receives the chunk's rows [r] and probabilities [G, r, Nk].</param>
    public static void ForEachChunk(Tensor q, Tensor k, Tensor rows, int temporaries, Action<Tensor, Tensor> visit)
    {
        long groups = q.shape[0], keys = k.shape[1], measured = rows.shape[0];
        double scale = 1.0 / Math.Sqrt(q.shape[2]);
        using var keys32 = k.to(ScalarType.Float32).transpose(1, 2);
        long chunk = ChunkBudget.Rows(temporaries * groups * keys, measured);
        for (long start = 0; start < measured; start += chunk)
        {
            using var inner = NewDisposeScope();
            var chunkRows = rows.narrow(0, start, Math.Min(chunk, measured - start));
            visit(chunkRows, (q.index_select(1, chunkRows).to(ScalarType.Float32).bmm(keys32) * scale).softmax(-1));
        }
    }
}
