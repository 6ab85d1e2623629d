using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// Per-query-cluster centroid compensation folded into one softmax term per query cluster: what a
/// fast attention kernel adds to each row of the cluster at its store, instead of one extra key per
/// skipped cluster.
/// </summary>
/// <remarks>
/// With <see cref="CompensationMode.PerQueryCluster"/>, every row of query cluster a gains the same
/// terms n_b exp(s_ab) and n_b exp(s_ab) v̄_b, s_ab = q̄_a . c_b * scale, for every approximated
/// non-empty key cluster b. Their sums are one term of weight W_a = sum_b n_b exp(s_ab) and value
/// V_a = sum_b n_b exp(s_ab) v̄_b / W_a, so a row's output is
/// <code>(sum_j exp(s_ij) v_j + W_a V_a) / (sum_j exp(s_ij) + W_a)</code>
/// over its exact keys j: the same as the reference's extra columns, with the cost of the extra
/// columns paid once per cluster. The weight is kept as log2 W_a (the exp2 domain the kernels keep
/// their row maxima in), -infinity for a cluster with nothing approximated.
/// </remarks>
/// <param name="Log2Weight">[G, QC] float32: log2 W_a, or -infinity.</param>
/// <param name="Value">[G, QC, Dv] float32: V_a, 0 where nothing is approximated.</param>
public sealed record ClusterCompensationTerms(Tensor Log2Weight, Tensor Value) : IDisposable
{
    /// <summary>Folds the approximated blocks of every query cluster into its term.</summary>
    /// <param name="queryMeans">[G, QC, D] query cluster means q̄_a (any floating dtype).</param>
    /// <param name="keyMeans">[G, KC, D] key cluster means c_b.</param>
    /// <param name="valueMeans">[G, KC, Dv] mean values v̄_b.</param>
    /// <param name="keySizes">[G, KC] int64 n_b; empty clusters are never approximated.</param>
    /// <param name="approximated">[G, QC, KC] bool: the blocks to approximate (not computed exactly).</param>
    /// <param name="scale">Softmax scale.</param>
    public static ClusterCompensationTerms Of(Tensor queryMeans, Tensor keyMeans, Tensor valueMeans, Tensor keySizes, Tensor approximated, double scale)
    {
        long groups = queryMeans.shape[0], queryClusters = queryMeans.shape[1], keyClusters = keyMeans.shape[1];
        if (queryMeans.dim() != 3 || keyMeans.dim() != 3 || valueMeans.dim() != 3 || keyMeans.shape[0] != groups || keyMeans.shape[2] != queryMeans.shape[2]
            || !valueMeans.shape.Take(2).SequenceEqual(keyMeans.shape.Take(2)) || !keySizes.shape.SequenceEqual(keyMeans.shape.Take(2))
            || approximated.dtype != ScalarType.Bool || !approximated.shape.SequenceEqual(new[] { groups, queryClusters, keyClusters }))
            throw new ArgumentException($"Compensation terms need query means [G, QC, D], key means [G, KC, D], value means [G, KC, Dv], key sizes [G, KC] " +
                $"and a bool mask [G, QC, KC]; got {TensorPredicates.Shape(queryMeans)}, {TensorPredicates.Shape(keyMeans)}, {TensorPredicates.Shape(valueMeans)}, " +
                $"{TensorPredicates.Shape(keySizes)} and {approximated.dtype} {TensorPredicates.Shape(approximated)}.");
        using var logits = CentroidLogits(queryMeans, keyMeans, keySizes, scale);
        return FromLogits(logits, valueMeans, approximated);
    }

    /// <summary>
    /// [G, QC, KC] float32: ln(n_b) + q̄_a . c_b x scale, the log-weight of every block's compensation term
    /// (-infinity for an empty key cluster).
    /// </summary>
    public static Tensor CentroidLogits(Tensor queryMeans, Tensor keyMeans, Tensor keySizes, double scale)
    {
        using var scope = NewDisposeScope();
        var logSizes = keySizes.to(ScalarType.Float32).log().unsqueeze(1);
        return (queryMeans.to(ScalarType.Float32).bmm(keyMeans.to(ScalarType.Float32).transpose(1, 2)) * scale + logSizes).MoveToOuterDisposeScope();
    }

    /// <summary>The terms of the <paramref name="approximated"/> blocks from their log-weights (<see cref="CentroidLogits"/>).</summary>
    /// <param name="logits">[G, QC, KC] float32 from <see cref="CentroidLogits"/>.</param>
    /// <param name="valueMeans">[G, KC, Dv] mean values v̄_b.</param>
    /// <param name="approximated">[G, QC, KC] bool: the blocks to approximate.</param>
    public static ClusterCompensationTerms FromLogits(Tensor logits, Tensor valueMeans, Tensor approximated)
    {
        using var scope = NewDisposeScope();
        logits = logits.masked_fill(approximated.logical_not(), double.NegativeInfinity);
        var logWeight = logits.logsumexp(-1, keepdim: true);
        // A cluster with nothing approximated has -inf - -inf = NaN weights: they become 0.
        var weights = (logits - logWeight).exp().nan_to_num(0.0, 0.0, 0.0);
        // A matrix product would spread a non-finite mean value to every cluster through 0 x NaN: a NaN reaches
        // only the clusters that approximate its cluster, as in the reference's extra columns.
        var values32 = valueMeans.to(ScalarType.Float32);
        var value = weights.bmm(values32.nan_to_num(0.0, 0.0, 0.0));
        var poisoned = (approximated & values32.isfinite().logical_not().any(-1).unsqueeze(1)).any(-1, keepdim: true);
        value = value.masked_fill(poisoned, double.NaN);
        var terms = new ClusterCompensationTerms((logWeight.squeeze(-1) / Math.Log(2)).contiguous(), value.contiguous());
        terms.Log2Weight.MoveToOuterDisposeScope();
        terms.Value.MoveToOuterDisposeScope();
        return terms;
    }

    /// <summary>
    /// The same terms for a layout with more query clusters (text blocks appended after the video
    /// clusters): the added clusters approximate nothing.
    /// </summary>
    public ClusterCompensationTerms PadTo(long queryClusters)
    {
        if (queryClusters < QueryClusters) throw new ArgumentException($"Cannot pad compensation terms of {QueryClusters} query clusters to {queryClusters}.");
        using var scope = NewDisposeScope();
        long added = queryClusters - QueryClusters, groups = Log2Weight.shape[0];
        var terms = new ClusterCompensationTerms(
            cat([Log2Weight, full([groups, added], double.NegativeInfinity, ScalarType.Float32, Log2Weight.device)], 1).contiguous(),
            cat([Value, zeros([groups, added, Value.shape[2]], ScalarType.Float32, Value.device)], 1).contiguous());
        terms.Log2Weight.MoveToOuterDisposeScope();
        terms.Value.MoveToOuterDisposeScope();
        return terms;
    }

    /// <summary>Query clusters QC.</summary>
    public long QueryClusters => Log2Weight.shape[1];

    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        Log2Weight.Dispose();
        Value.Dispose();
    }
}
