using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// The masked strategy of <see cref="VariableBlockAttention"/>: a query row attends every key through
/// libtorch's scaled_dot_product_attention, with an additive mask that is 0 on the keys of the clusters
/// its cluster selected and -inf elsewhere. Compensated key clusters are extra keys after the real ones:
/// the centroid c_b with bias log n_b for the blocks compensated per row, and a zero key with bias
/// q̄_a . c_b x scale + log n_b for those compensated per query cluster, each with value v̄_b. The softmax over a row's unmasked columns is the gathering strategy's, so both
/// give the same output within float32 rounding; the masked one costs a dense product whatever the density,
/// and runs at dense attention's speed.
/// </summary>
/// <remarks>
/// A masked score is -inf only when the score itself is finite, and a masked value weighs exactly 0 only
/// when the value is finite: <see cref="Applies"/> says for which groups that holds. Rows go in chunks whose
/// mask holds at most <see cref="ChunkElements"/> entries, whatever the sequence length.
/// </remarks>
internal static class MaskedBlockAttention
{
    /// <summary>
    /// Mask entries per attention call (16 MiB of float32): larger chunks gain nothing, and a temporary above
    /// the C allocator's mapping threshold (32 MiB at most) is mapped and faulted in afresh on every call.
    /// </summary>
    internal const long ChunkElements = 1L << 22;

    /// <summary>
    /// Per group, whether this strategy gives the gathering one's output: every value (and mean value) is
    /// finite and no score can overflow, since |q . k x scale| &lt;= max|q| max|k| D |scale| stays below
    /// <see cref="MaxScoreBound"/> (the per-query-cluster compensation scores of the means likewise).
    /// A NaN or infinity anywhere in a group's inputs sends it to the gathering strategy, which keeps
    /// non-finite values to the rows that read them.
    /// </summary>
    /// <returns>[G] on the host.</returns>
    public static bool[] Applies(BlockAttentionProblem problem)
    {
        using var scope = NewDisposeScope();
        var queries = AbsMax(problem.Queries);
        var keys = AbsMax(problem.Keys);
        var values = AbsMax(problem.Values);
        if (problem.Compensation?.Means is { } means)
        {
            queries = maximum(queries, AbsMax(means.QueryMeans));
            keys = maximum(keys, AbsMax(means.KeyMeans));
            values = maximum(values, AbsMax(means.ValueMeans));
        }
        var scoreBound = queries.to(ScalarType.Float64) * keys.to(ScalarType.Float64) * (problem.Queries.shape[2] * Math.Abs(problem.Scale));
        return (scoreBound.lt(MaxScoreBound) & values.isfinite()).cpu().data<bool>().ToArray();
    }

    /// <summary>The largest score bound accepted: far from float32's overflow, so scores, their exponentials and the log-size biases stay finite.</summary>
    internal const double MaxScoreBound = 1e30;

    /// <summary>[G]: the largest magnitude in each group (from its extremes: no temporary of the input's size); NaN when the group holds a NaN, 0 when it is empty.</summary>
    static Tensor AbsMax(Tensor x) =>
        x.shape[1] == 0 || x.shape[2] == 0 ? zeros(x.shape[0], ScalarType.Float32, x.device)
            : maximum(x.amax([1, 2]), x.amin([1, 2]).neg()).to(ScalarType.Float32);

    /// <summary>Writes the attention of every query row of <paramref name="group"/> into <paramref name="output"/> [Nq, Dv] (permuted, zeroed).</summary>
    public static void Attend(BlockAttentionProblem problem, int group, Tensor output)
    {
        using var scope = NewDisposeScope();
        var (bias, keys, values) = Columns(problem, group);
        // A row none of whose columns is open keeps its zero output, whatever the kernel makes of a row of -inf.
        var attends = bias.amax(1).isfinite();
        var queryLabels = ClusterOfEachRow(problem.QueryLayout.Sizes[group]);
        // scaled_dot_product_attention scales by 1/sqrt(D); another scale goes into the queries.
        float queryScale = (float)(problem.Scale * Math.Sqrt(problem.Queries.shape[2]));
        var keys4 = keys.unsqueeze(0).unsqueeze(0);
        var values4 = values.unsqueeze(0).unsqueeze(0);
        long tokens = problem.Queries.shape[1];
        long chunkRows = Math.Max(1, ChunkElements / Math.Max(1, bias.shape[1]));
        for (long start = 0; start < tokens; start += chunkRows)
        {
            using var inner = NewDisposeScope();
            long length = Math.Min(chunkRows, tokens - start);
            var labels = queryLabels.narrow(0, start, length);
            var rows = problem.Queries[group].narrow(0, start, length);
            if (queryScale != 1f) rows = rows * queryScale;
            var attended = nn.functional.scaled_dot_product_attention(rows.unsqueeze(0).unsqueeze(0), keys4, values4,
                bias.index_select(0, labels).unsqueeze(0).unsqueeze(0)).squeeze(0).squeeze(0);
            output.narrow(0, start, length).copy_(where(attends.index_select(0, labels).unsqueeze(1), attended, 0.0f));
        }
    }

    /// <summary>
    /// The additive mask [QC, Nk (+ KC)] of every query cluster over the permuted keys (then the compensation
    /// columns), and the keys and values it masks.
    /// </summary>
    static (Tensor Bias, Tensor Keys, Tensor Values) Columns(BlockAttentionProblem problem, int group)
    {
        var blockMask = problem.BlockMask[group];
        var keyLabels = ClusterOfEachRow(problem.KeyLayout.Sizes[group]);
        var bias = OpenWhere(blockMask, zeros(blockMask.shape, ScalarType.Float32, blockMask.device)).index_select(1, keyLabels);
        if (problem.Compensation is not { } compensation) return (bias, problem.Keys[group], problem.Values[group]);

        var means = compensation.Means;
        var sizes = problem.KeyLayout.Sizes[group];
        var nonEmpty = sizes.gt(0).unsqueeze(0);
        var logSizes = sizes.to(ScalarType.Float32).log().unsqueeze(0);
        var centroids = means.KeyMeans[group];
        var (biases, keys, values) = (new List<Tensor> { bias }, new List<Tensor> { problem.Keys[group] }, new List<Tensor> { problem.Values[group] });
        if (problem.RowCompensated is { } perRow)
        {
            biases.Add(OpenWhere(perRow[group] & nonEmpty, logSizes.expand(blockMask.shape[0], -1)));
            keys.Add(centroids);
            values.Add(means.ValueMeans[group]);
        }
        if (problem.ClusterCompensated is { } perCluster)
        {
            biases.Add(OpenWhere(perCluster[group] & nonEmpty, means.QueryMeans[group].matmul(centroids.t()) * problem.Scale + logSizes));
            keys.Add(zeros_like(centroids));
            values.Add(means.ValueMeans[group]);
        }
        return (cat(biases, 1), cat(keys, 0), cat(values, 0));
    }

    /// <summary><paramref name="bias"/> where <paramref name="open"/>, -inf elsewhere.</summary>
    static Tensor OpenWhere(Tensor open, Tensor bias) => bias.masked_fill(open.logical_not(), float.NegativeInfinity);

    /// <summary>[N]: the cluster of each permuted row, from the cluster sizes [C].</summary>
    static Tensor ClusterOfEachRow(Tensor sizes) => arange(sizes.shape[0], ScalarType.Int64, sizes.device).repeat_interleave(sizes);
}
