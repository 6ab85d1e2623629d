using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// Why an uncompensated sparse output misses dense attention. For one query row with exact probabilities p
/// and kept keys K (recall r = sum_K p), the sparse output renormalises over K, o_s = m_K, while the dense
/// output is o = r m_K + (1 - r) m_D, where m_K and m_D are the probability-weighted mean values of the kept
/// and the dropped keys. Hence o_s - o = (1 - r)(m_K - m_D): the error is the dropped mass times the gap
/// between the kept and the dropped mean values, so a pattern that keeps more mass can still miss more when
/// its kept keys' values stand in worse for the dropped ones.
/// </summary>
/// <param name="DroppedMass">[G] mean dropped mass 1 - r per row.</param>
/// <param name="ValueGap">
/// [G] sqrt(sum ||m_K - m_D||^2) / sqrt(sum ||o||^2) over the measured rows that keep and drop some mass
/// (the gap is undefined elsewhere), aggregated as <see cref="AttentionQuality.RelativeError"/> is.
/// </param>
/// <param name="ImpliedError">
/// [G] sqrt(sum ||(1 - r)(m_K - m_D)||^2) / sqrt(sum ||o||^2) over all measured rows (a row that keeps nothing
/// counts as output 0): the relative error the decomposition implies, which should equal the measured
/// <see cref="AttentionQuality.RelativeError"/> of an uncompensated output on the same rows.
/// </param>
/// <param name="RowsMeasured">Query rows the figures cover.</param>
public sealed record KeptValueGap(double[] DroppedMass, double[] ValueGap, double[] ImpliedError, long RowsMeasured)
{
    /// <summary>Measures <paramref name="pattern"/> on <paramref name="q"/>, <paramref name="k"/>, <paramref name="v"/> in row chunks.</summary>
    /// <param name="q">[G, Nq, D].</param>
    /// <param name="k">[G, Nk, D].</param>
    /// <param name="v">[G, Nk, Dv].</param>
    /// <param name="pattern">The keys each row keeps.</param>
    /// <param name="sampleRows">Measure this many seeded rows (the same rows as <see cref="AttentionQuality"/> with the same seed); null for all.</param>
    /// <param name="seed">Seed of the row sample.</param>
    public static KeptValueGap Measure(Tensor q, Tensor k, Tensor v, ISparsityPattern pattern, long? sampleRows = null, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        using var scope = NewDisposeScope();
        long groups = q.shape[0];
        var rows = SampledAttentionRows.Draw(q.shape[1], sampleRows, seed, q.device);
        long measured = rows.shape[0];
        var values32 = v.to(ScalarType.Float32);
        var droppedSum = SampledAttentionRows.Sum(groups, q.device);
        var gapSquares = SampledAttentionRows.Sum(groups, q.device);
        var gapReferenceSquares = SampledAttentionRows.Sum(groups, q.device);
        var errorSquares = SampledAttentionRows.Sum(groups, q.device);
        var referenceSquares = SampledAttentionRows.Sum(groups, q.device);
        // Three float32 temporaries of [G, chunk, Nk] live at once: the probabilities and their kept and dropped parts.
        SampledAttentionRows.ForEachChunk(q, k, rows, 3, (chunkRows, probabilities) =>
        {
            var kept = probabilities * pattern.Allowed(chunkRows, probabilities);
            var dropped = probabilities - kept;
            // The masses and weighted value sums of each part are summed separately rather than taking the dropped
            // part as dense minus kept, which would cancel catastrophically when little mass is dropped.
            var keptMass = kept.sum(-1, keepdim: true).to(ScalarType.Float64);
            var droppedMass = dropped.sum(-1, keepdim: true).to(ScalarType.Float64);
            var keptValues = kept.bmm(values32).to(ScalarType.Float64);
            var droppedValues = dropped.bmm(values32).to(ScalarType.Float64);
            var dense = keptValues + droppedValues;
            // A part with no mass has a zero value sum, so the clamp leaves its mean 0: a row that keeps nothing
            // outputs 0, and a row that drops nothing contributes no error.
            var keptMean = keptValues / keptMass.clamp_min(1e-300);
            var droppedMean = droppedValues / droppedMass.clamp_min(1e-300);
            var gap = (keptMean - droppedMean).square().sum(-1);
            var denseSquares = dense.square().sum(-1);
            var defined = keptMass.squeeze(-1).gt(0).logical_and(droppedMass.squeeze(-1).gt(0));
            droppedSum.add_(droppedMass.sum([1, 2]));
            gapSquares.add_((gap * defined).sum(1));
            gapReferenceSquares.add_((denseSquares * defined).sum(1));
            errorSquares.add_((gap * droppedMass.squeeze(-1).square()).sum(1));
            referenceSquares.add_(denseSquares.sum(1));
        });

        return new KeptValueGap((droppedSum / measured).cpu().data<double>().ToArray(), SampledAttentionRows.RelativeNorm(gapSquares, gapReferenceSquares),
            SampledAttentionRows.RelativeNorm(errorSquares, referenceSquares), measured);
    }
}
