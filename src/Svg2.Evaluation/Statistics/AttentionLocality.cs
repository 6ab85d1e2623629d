using Svg2.Algorithm;
using Svg2.Evaluation.Methods;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// How local a head's attention is on the video grid, and which part of it a sparsity pattern keeps:
/// <see cref="LocalShare"/> is the mean share of a query's exact attention mass on its grid neighbours;
/// with a pattern, <see cref="LocalRecall"/> and <see cref="FarRecall"/> are the shares of the neighbours'
/// mass and of the rest of the mass that the pattern's allowed keys hold (pooled over the sampled rows).
/// </summary>
/// <param name="LocalShare">[G] mean share of the mass on neighbours.</param>
/// <param name="LocalRecall">[G] kept share of the neighbours' mass, or null without a pattern.</param>
/// <param name="FarRecall">[G] kept share of the other keys' mass, or null without a pattern.</param>
/// <param name="RowsMeasured">Query rows the figures cover.</param>
public sealed record AttentionLocality(double[] LocalShare, double[]? LocalRecall, double[]? FarRecall, long RowsMeasured)
{
    /// <summary>
    /// Measures <paramref name="q"/>, <paramref name="k"/> on <paramref name="grid"/> in row chunks (a chunk of
    /// rows by all keys at a time).
    /// </summary>
    /// <param name="q">[G, S, D] queries in grid order.</param>
    /// <param name="k">[G, S, D] keys in grid order.</param>
    /// <param name="grid">The token grid of the S tokens.</param>
    /// <param name="neighbourhood">Which keys count as local.</param>
    /// <param name="pattern">A pattern whose kept local and far mass to measure, or null.</param>
    /// <param name="sampleRows">Measure this many seeded rows; null for all.</param>
    /// <param name="seed">Seed of the row sample.</param>
    public static AttentionLocality Measure(Tensor q, Tensor k, TokenGrid grid, GridNeighbourhood neighbourhood, ISparsityPattern? pattern = null,
        long? sampleRows = null, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        if (q.dim() != 3 || k.dim() != 3 || q.shape[1] != grid.Tokens || k.shape[1] != grid.Tokens)
            throw new ArgumentException($"q [{string.Join(", ", q.shape)}] and k [{string.Join(", ", k.shape)}] must be [G, S, D] with S = {grid.Tokens}, the grid's tokens.");
        using var scope = NewDisposeScope();
        long groups = q.shape[0], tokens = grid.Tokens;
        var rows = SampledAttentionRows.Draw(tokens, sampleRows, seed, q.device);
        long measured = rows.shape[0];
        var positions = grid.Coordinates(q.device);
        var local = SampledAttentionRows.Sum(groups, q.device);
        var localKept = SampledAttentionRows.Sum(groups, q.device);
        var farKept = SampledAttentionRows.Sum(groups, q.device);
        // Up to four float32 temporaries of [G, chunk, S] live at once.
        SampledAttentionRows.ForEachChunk(q, k, rows, 4, (chunkRows, probabilities) =>
        {
            var near = neighbourhood.Contains(positions.index_select(0, chunkRows), positions).unsqueeze(0);
            var nearMass = probabilities * near;
            local.add_(nearMass.sum([1, 2]).to(ScalarType.Float64));
            if (pattern is null) return;
            var allowed = pattern.Allowed(chunkRows, probabilities);
            localKept.add_((nearMass * allowed).sum([1, 2]).to(ScalarType.Float64));
            farKept.add_(((probabilities - nearMass) * allowed).sum([1, 2]).to(ScalarType.Float64));
        });

        // Each row's mass sums to one, so the far mass over the rows is measured - local.
        var localShare = (local / measured).cpu().data<double>().ToArray();
        if (pattern is null) return new AttentionLocality(localShare, null, null, measured);
        var localRecall = (localKept / local.clamp_min(1e-30)).cpu().data<double>().ToArray();
        var farRecall = (farKept / local.neg().add(measured).clamp_min(1e-30)).cpu().data<double>().ToArray();
        return new AttentionLocality(localShare, localRecall, farRecall, measured);
    }
}
