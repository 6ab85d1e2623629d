using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// The exact attention probabilities of sampled query rows, computed chunk by chunk so that the [G, chunk, Nk]
/// temporaries stay within <see cref="ChunkBudget"/> whatever the sequence length (shared by the row statistics).
/// </summary>
internal static class SampledAttentionRows
{
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
