using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// How close a sparse attention output is to dense attention, per group (head):
/// <see cref="Recall"/>, the mean share of each query's exact attention mass that falls on keys the
/// pattern allowed, and <see cref="RelativeError"/>, ||O_sparse - O_dense|| / ||O_dense|| over the
/// measured rows.
/// </summary>
/// <param name="Recall">[G] mean recall per group.</param>
/// <param name="RelativeError">[G] relative L2 error per group.</param>
/// <param name="RowsMeasured">Query rows the figures cover (all rows, or a seeded sample).</param>
public sealed record AttentionQuality(double[] Recall, double[] RelativeError, long RowsMeasured)
{
    /// <summary>
    /// Measures a sparse output against exact attention, in row chunks: the largest temporary is a
    /// chunk of rows by all keys, kept under <see cref="ChunkBudget.MaxElements"/>.
    /// </summary>
    /// <param name="q">[G, Nq, D].</param>
    /// <param name="k">[G, Nk, D].</param>
    /// <param name="v">[G, Nk, Dv].</param>
    /// <param name="sparseOutput">[G, Nq, Dv] the output to judge, original order.</param>
    /// <param name="pattern">The keys each row was allowed.</param>
    /// <param name="sampleRows">Measure only this many rows, drawn without replacement with <paramref name="seed"/>; null for all.</param>
    /// <param name="seed">Seed of the row sample.</param>
    public static AttentionQuality Measure(Tensor q, Tensor k, Tensor v, Tensor sparseOutput, ISparsityPattern pattern, long? sampleRows = null, long seed = 0)
    {
        using var scope = NewDisposeScope();
        long groups = q.shape[0], queries = q.shape[1];
        var rows = SampledAttentionRows.Draw(queries, sampleRows, seed, q.device);
        long measured = rows.shape[0];
        var values32 = v.to(ScalarType.Float32);
        var recallSum = SampledAttentionRows.Sum(groups, q.device);
        var errorSquares = SampledAttentionRows.Sum(groups, q.device);
        var referenceSquares = SampledAttentionRows.Sum(groups, q.device);
        // Three float32 temporaries of [G, chunk, Nk] live at once.
        SampledAttentionRows.ForEachChunk(q, k, rows, 3, (chunkRows, probabilities) =>
        {
            var allowed = pattern.Allowed(chunkRows, probabilities);
            recallSum.add_((probabilities * allowed).sum([1, 2]).to(ScalarType.Float64));
            var dense = probabilities.bmm(values32);
            var difference = sparseOutput.index_select(1, chunkRows).to(ScalarType.Float32) - dense;
            errorSquares.add_(difference.square().sum([1, 2]).to(ScalarType.Float64));
            referenceSquares.add_(dense.square().sum([1, 2]).to(ScalarType.Float64));
        });
        var recall = (recallSum / measured).cpu().data<double>().ToArray();
        var relativeError = SampledAttentionRows.RelativeNorm(errorSquares, referenceSquares);
        return new AttentionQuality(recall, relativeError, measured);
    }
}
