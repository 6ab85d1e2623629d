using static TorchSharp.torch;

namespace Svg2.Attention.Fp8;

/// <summary>
/// The online softmax of FP8 attention for rows that share one key sequence, with every quantisation
/// point of the kernel and float32 elsewhere (see <see cref="Fp8BlockSparseAttention"/> for the whole scheme).
/// </summary>
/// <remarks>
/// The running maximum after key block b is the maximum of the first b blocks' maxima, so it is computed
/// for every block at once (a cumulative maximum) instead of block after block: P and its FP8 rounding
/// are the same; the kernel's rescaling of its accumulators by exp(m_old - m_new) at each step and the
/// single rescaling by exp(m_b - m_last) here agree up to float32 rounding.
/// </remarks>
internal static class Fp8RowAttention
{
    /// <summary>
    /// Σ_b exp(m_b - m) (P̂_b V̂_b) / l with l = Σ_b exp(m_b - m) Σ P̂_b, for rows [R, D]: the output before V's
    /// channel scales (P̂ = e4m3(P × 448), so the 448 cancels).
    /// </summary>
    /// <param name="queries">[R, D] decoded FP8 query values.</param>
    /// <param name="queryScales">[R, 1] their scales.</param>
    /// <param name="keys">[L, D] decoded FP8 key values, in the rows' key order.</param>
    /// <param name="keyScales">[L, 1] their scales.</param>
    /// <param name="values">[L, Dv] decoded FP8 values in the same order.</param>
    /// <param name="keyBias">[L] float32 logit bias of each key before the softmax scale (Q smoothing's q̄ · k); null for none.</param>
    /// <param name="scale">Softmax scale.</param>
    public static Tensor Attend(Tensor queries, Tensor queryScales, Tensor keys, Tensor keyScales, Tensor values, Tensor? keyBias, double scale)
    {
        using var scope = NewDisposeScope();
        long rows = queries.shape[0], length = keys.shape[0], valueDim = values.shape[1];
        long block = Fp8Tiles.KeyBlockKeys, blocks = (length + block - 1) / block, padding = blocks * block - length;
        var logits = queries.matmul(keys.t()) * (queryScales * keyScales.t());
        if (keyBias is not null) logits = logits + keyBias.unsqueeze(0);
        logits = logits * scale;
        if (padding > 0)
        {
            logits = nn.functional.pad(logits, [0, padding], value: double.NegativeInfinity);
            values = nn.functional.pad(values, [0, 0, 0, padding]);
        }
        var blocked = logits.view(rows, blocks, block);
        var runningMax = blocked.amax([2]).cummax(1).values;                    // [R, nb]: m_b
        var probabilities = (blocked - runningMax.unsqueeze(2)).exp();          // P_b in [0, 1]
        var weights = (runningMax - runningMax.narrow(1, blocks - 1, 1)).exp(); // exp(m_b - m_last)
        var rounded = E4M3.Round(probabilities * Fp8Tiles.ProbabilityScale);
        // The row sum is of the rounded weights the products use (a kernel sums them with the same FP8 product).
        var rowSum = (rounded.sum([2]) * weights).sum([1], keepdim: true);
        // Inner level: one block's P̂ V̂ alone (the FP8 MMA's short accumulation); outer: float32 across blocks.
        var partial = rounded.permute(1, 0, 2).bmm(values.view(blocks, block, valueDim));  // [nb, R, Dv]
        var accumulated = (partial * weights.t().unsqueeze(2)).sum([0]);
        return (accumulated / rowSum).MoveToOuterDisposeScope();
    }
}
