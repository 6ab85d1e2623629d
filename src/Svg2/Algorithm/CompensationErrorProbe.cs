using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// The probe of error-aware routing: for every (query cluster a, key cluster b) an estimate of the
/// error centroid compensation would leave if block (a, b) were skipped, set against what computing
/// the block exactly would cost. In TorchSharp operations; nothing of size S x S.
/// </summary>
/// <remarks>
/// Each query cluster's mean q̄_a is attended exactly over all keys, as one representative row of the
/// cluster. With its probabilities p_aj, output o_a and compensation weight w_ab = n_b exp(q̄_a . c_b /
/// sqrt(D) - lse_a), the error that approximating key cluster b leaves in that row's output is the vector
/// <code>E_ab = sum_{j in b} p_aj (v_j - o_a) - w_ab (v̄_b - o_a)</code>
/// (to first order in the skipped mass). It vanishes when b's keys and values are all equal, and grows
/// with the spread of b's keys along q̄_a, with the spread of its values, and with its mass. The block
/// weighs n_a rows; its score is its share of the head's squared error over its share of the score matrix,
/// <code>r_ab = (n_a |E_ab|^2 / E) / (n_a n_b / S^2) = S^2 |E_ab|^2 / (n_b E)</code>, with E = sum_a n_a |o_a|^2
/// the head's estimated squared output norm: keeping every block whose score reaches a common threshold
/// minimises the sum over heads of the squared relative error for the density spent, when the errors of
/// different blocks are independent. Empty query or key clusters score 0.
/// <para>
/// The mean rather than sampled member rows: a block's error varies strongly over the rows of a query
/// cluster, so a few sampled members give a noisy estimate that made the routing worse than SVG2's top-p
/// rule on clusters of 64 tokens and more, while the mean stands for the whole cluster the routing decides
/// for, at the lowest cost (docs/quality.md has the measurements).
/// </para>
/// <para>
/// |E_ab|^2 is expanded so that nothing of size QC x KC x Dv is formed: with x_ab the weights
/// (p_aj for j in b, -w_ab) over b's values and v̄_b, |E|^2 = |sum x u|^2 - 2 (sum x) o.(sum x u) +
/// (sum x)^2 |o|^2, where the first term is a quadratic form in the Gram matrix of b's values (or a
/// product with them, for clusters larger than the value dimension), computed for all clusters of one
/// size in one batched product. The expansion runs in float64, so that a block compensation represents
/// exactly scores about 0 rather than rounding noise, and scores keep their order over hundreds of decades.
/// </para>
/// Cost: QC rows against all keys, QC / S of a dense pass (0.4% at Wan 720p).
/// </remarks>
public static class CompensationErrorProbe
{
    /// <summary>Estimates the error-to-cost score of every block.</summary>
    /// <param name="k">[G, N, D] key rows that were clustered (original order).</param>
    /// <param name="v">[G, N, Dv] values of those keys.</param>
    /// <param name="keyLayout">The key clusters' permuted layout (KC clusters).</param>
    /// <param name="means">Means and sizes of the query clusters and key clusters.</param>
    /// <param name="sampledKeysPerCluster">
    /// Attend at most this many keys of each key cluster (<see cref="ProbeKeySample"/>), or every key when null.
    /// </param>
    /// <param name="normalisation">Where lse_a and o_a come from: the exact softmax of the mean row, or the centroids' softmax.</param>
    /// <returns>[G, QC, KC] float64 scores, at least 0 (float64: they span hundreds of decades).</returns>
    public static Tensor Estimate(Tensor k, Tensor v, ClusterLayout keyLayout, ClusterMeans means, int? sampledKeysPerCluster = null,
        ProbeNormalisation normalisation = ProbeNormalisation.Exact)
    {
        if (k.dim() != 3 || v.dim() != 3 || keyLayout.Tokens != k.shape[1] || k.shape[1] != v.shape[1]
            || means.KeyClusters != keyLayout.Clusters || means.KeyMeans.shape[0] != k.shape[0] || means.QueryMeans.shape[2] != k.shape[2])
            throw new ArgumentException($"The probe's inputs disagree: k {TensorPredicates.Shape(k)}, v {TensorPredicates.Shape(v)}, " +
                $"a key layout of {keyLayout.Tokens} rows in {keyLayout.Clusters} clusters, means {TensorPredicates.Shape(means.QueryMeans)} and {TensorPredicates.Shape(means.KeyMeans)}.");
        using var scope = NewDisposeScope();
        long groups = k.shape[0], tokens = k.shape[1], queryClusters = means.QueryClusters, keyClusters = means.KeyClusters, valueDim = v.shape[2];
        double scale = 1.0 / Math.Sqrt(k.shape[2]);
        var keys32 = ClusterPermutation.Apply(k, keyLayout.Permutation).to(ScalarType.Float32);
        var values32 = ClusterPermutation.Apply(v, keyLayout.Permutation).to(ScalarType.Float32);
        var logSizes = means.KeySizes.to(ScalarType.Float32).log();
        long[] keyOffsets = keyLayout.Offsets.cpu().data<long>().ToArray();

        using var sample = sampledKeysPerCluster is { } perCluster ? ProbeKeySample.Of(keyLayout.Offsets, (int)keyClusters, perCluster) : null;
        long[]? sampleOffsets = sample?.Offsets.cpu().data<long>().ToArray();

        var squaredError = zeros([groups, queryClusters, keyClusters], ScalarType.Float64, k.device);
        var squaredOutput = empty([groups, queryClusters], ScalarType.Float64, k.device);
        // The largest temporaries per probed row: its scores and value products over all keys (and clusters).
        long chunk = ChunkBudget.Rows(4 * (tokens + keyClusters), queryClusters);
        for (int g = 0; g < groups; g++)
        {
            using var headScope = NewDisposeScope();
            var headOffsets = keyOffsets.AsSpan(g * (int)(keyClusters + 1), (int)keyClusters + 1);
            var headSampleOffsets = sampleOffsets is null ? null : sampleOffsets.AsSpan(g * (int)(keyClusters + 1), (int)keyClusters + 1).ToArray();
            var sampledRows = sample is null ? null : sample.Positions[g].narrow(0, 0, headSampleOffsets![^1]);
            var headKeys = sampledRows is null ? keys32[g] : keys32[g].index_select(0, sampledRows);
            var keyLogWeights = sample is null ? null
                : sample.LogWeights[g].index_select(0, sample.Clusters[g].narrow(0, 0, headSampleOffsets![^1])).to(ScalarType.Float64);
            var sameSize = SameSizeClusters.Of(headSampleOffsets is null ? headOffsets : headSampleOffsets.AsSpan(), k.device);
            var values64 = (sampledRows is null ? values32[g] : values32[g].index_select(0, sampledRows)).to(ScalarType.Float64);
            var valueMeans = means.ValueMeans[g].to(ScalarType.Float64);
            // Per cluster, its values followed by its mean value: [m, n + 1, Dv], and their Gram matrices when smaller.
            var stacked = sameSize.Select(c => cat([values64.index_select(0, c.Rows).reshape(c.Count, c.Size, valueDim),
                valueMeans.index_select(0, c.Clusters).unsqueeze(1)], 1)).ToArray();
            var grams = stacked.Select(x => x.shape[1] < valueDim ? x.bmm(x.transpose(1, 2)) : null).ToArray();
            for (long start = 0; start < queryClusters; start += chunk)
            {
                using var inner = NewDisposeScope();
                long count = Math.Min(chunk, queryClusters - start);
                var rows = means.QueryMeans[g].narrow(0, start, count);
                var logits = (rows.matmul(headKeys.t()) * scale).to(ScalarType.Float64);
                if (keyLogWeights is not null) logits = logits + keyLogWeights;
                var centroidLogits = (rows.matmul(means.KeyMeans[g].t()) * scale + logSizes[g]).to(ScalarType.Float64);
                Tensor logNormaliser, probabilities, output;
                if (normalisation == ProbeNormalisation.Exact)
                {
                    logNormaliser = logits.logsumexp(1, keepdim: true);
                    probabilities = (logits - logNormaliser).exp();
                    output = probabilities.matmul(values64);
                }
                else
                {
                    (logNormaliser, output) = CentroidSoftmax(rows, means.KeyMeans[g], valueMeans, means.KeySizes[g], scale);
                    probabilities = (logits - logNormaliser).exp();
                }
                var outputDotValues = output.matmul(values64.t());
                var outputDotMeans = output.matmul(valueMeans.t());
                var compensated = (centroidLogits - logNormaliser).exp();
                var outputNorms = output.square().sum(-1);
                for (int c = 0; c < sameSize.Length; c++)
                {
                    var clusters = sameSize[c].Clusters;
                    // x_ab = (p_aj for j in b, -w_ab): then E_ab = sum x (values, v̄_b) - (sum x) o_a.
                    var weights = cat([Grouped(probabilities, sameSize[c], count), -compensated.index_select(1, clusters).t().unsqueeze(-1)], -1);
                    var dots = cat([Grouped(outputDotValues, sameSize[c], count), outputDotMeans.index_select(1, clusters).t().unsqueeze(-1)], -1);
                    var sumSquares = grams[c] is { } gram
                        ? (weights.bmm(gram) * weights).sum(-1)
                        : weights.bmm(stacked[c]).square().sum(-1);
                    var massGap = weights.sum(-1);
                    // |E|^2 = |sum x u|^2 - 2 (sum x) o.(sum x u) + (sum x)^2 |o|^2, u the stacked values.
                    var error = (sumSquares - 2 * massGap * (weights * dots).sum(-1) + massGap.square() * outputNorms).clamp_min(0);
                    squaredError[g].narrow(0, start, count).index_copy_(1, clusters, error.t());
                }
                squaredOutput[g].narrow(0, start, count).copy_(outputNorms);
            }
        }

        return Scores(squaredError, squaredOutput, means.QuerySizes, means.KeySizes, tokens).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The normaliser and output of <see cref="ProbeNormalisation.Centroid"/>: per query-cluster mean, the log of
    /// sum_b n_b exp(q̄_a . c_b scale) and the matching mean of the key clusters' mean values, in float64. Empty key
    /// clusters take no part, whatever their means hold. Leading dimensions broadcast (one head or [G, ...]).
    /// </summary>
    /// <param name="queryMeans">[..., QC, D].</param>
    /// <param name="keyMeans">[..., KC, D].</param>
    /// <param name="valueMeans">[..., KC, Dv].</param>
    /// <param name="keySizes">[..., KC] member counts.</param>
    /// <param name="scale">The score scale, 1 / sqrt(D).</param>
    /// <returns>The log-normaliser [..., QC, 1] and the output [..., QC, Dv], float64.</returns>
    public static (Tensor LogNormaliser, Tensor Output) CentroidSoftmax(Tensor queryMeans, Tensor keyMeans, Tensor valueMeans, Tensor keySizes, double scale)
    {
        using var scope = NewDisposeScope();
        var sizes = keySizes.to(ScalarType.Float64).unsqueeze(-2);
        var logits = (queryMeans.to(ScalarType.Float64).matmul(keyMeans.to(ScalarType.Float64).transpose(-1, -2)) * scale + sizes.log())
            .masked_fill(sizes.eq(0), double.NegativeInfinity);
        var logNormaliser = logits.logsumexp(-1, keepdim: true);
        var output = (logits - logNormaliser).exp().matmul(valueMeans.to(ScalarType.Float64));
        return (logNormaliser.MoveToOuterDisposeScope(), output.MoveToOuterDisposeScope());
    }

    /// <summary>The least head energy E the scores divide by: a head of all-zero outputs scores its blocks by their error alone.</summary>
    public const double MinimumEnergy = 1e-30;

    /// <summary>
    /// The scores from the probe's squared errors: S^2 |E_ab|^2 / (n_b E) with E = sum_a n_a |o_a|^2 per
    /// head, 0 for blocks of an empty query or key cluster. Every implementation of the probe ends here.
    /// </summary>
    /// <param name="squaredError">[G, QC, KC] |E_ab|^2 (float64 keeps the tiny ones).</param>
    /// <param name="squaredOutput">[G, QC] |o_a|^2 of the probed mean rows.</param>
    /// <param name="querySizes">[G, QC] int64 n_a.</param>
    /// <param name="keySizes">[G, KC] int64 n_b.</param>
    /// <param name="tokens">S, the key rows probed.</param>
    /// <returns>[G, QC, KC] float64, at least 0 where the inputs are.</returns>
    public static Tensor Scores(Tensor squaredError, Tensor squaredOutput, Tensor querySizes, Tensor keySizes, long tokens)
    {
        if (squaredError.dim() != 3 || !squaredOutput.shape.SequenceEqual(squaredError.shape[..2])
            || !querySizes.shape.SequenceEqual(squaredOutput.shape) || !keySizes.shape.SequenceEqual(new[] { squaredError.shape[0], squaredError.shape[2] }))
            throw new ArgumentException($"The probe's squared errors {TensorPredicates.Shape(squaredError)} must be [G, QC, KC] with squared outputs " +
                $"{TensorPredicates.Shape(squaredOutput)} and query sizes {TensorPredicates.Shape(querySizes)} [G, QC], key sizes {TensorPredicates.Shape(keySizes)} [G, KC].");
        using var scope = NewDisposeScope();
        long groups = squaredError.shape[0];
        var queryCounts = querySizes.to(ScalarType.Float64);
        var energy = (queryCounts * squaredOutput.to(ScalarType.Float64)).sum(1).clamp_min(MinimumEnergy);
        double tokensSquared = (double)tokens * tokens;
        var keyCounts = keySizes.to(ScalarType.Float64).unsqueeze(1);
        var score = squaredError.to(ScalarType.Float64) * tokensSquared / (keyCounts.clamp_min(1) * energy.reshape(groups, 1, 1));
        var valid = (queryCounts > 0).unsqueeze(-1) & (keyCounts > 0);
        return where(valid, score, zeros_like(score)).MoveToOuterDisposeScope();
    }

    /// <summary>Columns of <paramref name="x"/> [rows, N] for the keys of same-size clusters, as [m, rows, n].</summary>
    static Tensor Grouped(Tensor x, SameSizeClusters clusters, long rows) =>
        x.index_select(1, clusters.Rows).reshape(rows, clusters.Count, clusters.Size).transpose(0, 1);

    /// <summary>Key clusters of one size n &gt; 0: their ids [m] and their permuted rows [m x n], cluster by cluster.</summary>
    readonly record struct SameSizeClusters(int Size, int Count, Tensor Clusters, Tensor Rows)
    {
        /// <summary>Groups the non-empty clusters of one head by size, from its offsets [KC + 1].</summary>
        public static SameSizeClusters[] Of(ReadOnlySpan<long> offsets, Device device)
        {
            var bySize = new SortedDictionary<int, List<int>>();
            for (int b = 0; b + 1 < offsets.Length; b++)
            {
                int size = (int)(offsets[b + 1] - offsets[b]);
                if (size == 0) continue;
                if (!bySize.TryGetValue(size, out var clusters)) bySize[size] = clusters = [];
                clusters.Add(b);
            }
            var starts = offsets.ToArray();
            return bySize.Select(entry => new SameSizeClusters(entry.Key, entry.Value.Count,
                tensor(entry.Value.Select(b => (long)b).ToArray(), ScalarType.Int64, device),
                tensor(entry.Value.SelectMany(b => Enumerable.Range(0, entry.Key).Select(r => starts[b] + r)).ToArray(), ScalarType.Int64, device))).ToArray();
        }
    }
}
