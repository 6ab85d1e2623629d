using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// The probe of error-aware routing: for every (query cluster a, key cluster b) an estimate of the
/// error centroid compensation would leave if block (a, b) were skipped, set against what computing
/// the block exactly would cost. In TorchSharp operations; nothing of size S x S.
/// </summary>
/// <remarks>
/// A few member rows of each query cluster (spread evenly over its permuted range) are attended
/// exactly over all keys. For such a row i with probabilities p_ij, output o_i and the compensation
/// weight w_ib = n_b exp(s_ib - lse_i) of the configured mode, the error that approximating cluster b
/// leaves in the output is the vector
/// <code>E_ib = sum_{j in b} p_ij (v_j - o_i) - w_ib (v̄_b - o_i)</code>
/// (to first order in the skipped mass). It vanishes when b's keys and values are all equal, and
/// grows with the spread of b's keys along q_i, with the spread of its values, and with its mass.
/// The block's estimated squared error e_ab is the mean of |E_ib|^2 over the probed rows of a; it
/// weighs n_a rows. Its score is error share over cost share,
/// <code>r_ab = (n_a e_ab / E) / (n_a n_b / S^2) = S^2 e_ab / (n_b E)</code>, with E = sum_a n_a
/// mean |o_i|^2 the head's estimated squared output norm: keeping every block whose score reaches a
/// common threshold minimises the sum over heads of the squared relative error for the density spent,
/// when the errors of different blocks are independent. Empty query or key clusters score 0.
/// <para>
/// |E_ib|^2 is expanded so that nothing of size rows x KC x Dv is formed: with x_ib the weights
/// (p_ij for j in b, -w_ib) over b's values and v̄_b, |E|^2 = |sum x u|^2 - 2 (sum x) o.(sum x u) +
/// (sum x)^2 |o|^2, where the first term is a quadratic form in the Gram matrix of b's values (or a
/// product with them, for clusters larger than the value dimension), computed for all clusters of one
/// size in one batched product. The expansion runs in float64, so that a block compensation represents
/// exactly scores about 0 rather than rounding noise.
/// </para>
/// Cost: rows x QC probed rows against all keys, about rows x QC / S of a dense pass. Too few rows per
/// cluster make the estimate noisy and the routing worse than SVG2's (with 2 rows per 256-token cluster,
/// docs/quality.md), hence <see cref="DefaultRowsPerCluster"/>.
/// </remarks>
public static class CompensationErrorProbe
{
    /// <summary>The fewest probed rows per query cluster.</summary>
    public const int MinRowsPerCluster = 2;

    /// <summary>Query tokens per probed row by default: a query cluster of n tokens gets ceil(n / 32) rows (at least 2).</summary>
    public const int TokensPerProbedRow = 32;

    /// <summary>
    /// The default probed rows per query cluster for <paramref name="tokens"/> clustered query rows in
    /// <paramref name="queryClusters"/> clusters: max(2, ceil(mean cluster size / 32)). The estimate of a
    /// block's error averages over these rows, so larger clusters need more of them: about S / 32 rows in
    /// all (3% of a dense pass) once clusters hold more than 64 tokens, 2 per cluster below.
    /// </summary>
    public static int DefaultRowsPerCluster(long tokens, long queryClusters) =>
        (int)Math.Max(MinRowsPerCluster, (tokens + queryClusters * TokensPerProbedRow - 1) / (queryClusters * TokensPerProbedRow));

    /// <summary>Estimates the error-to-cost score of every block.</summary>
    /// <param name="q">[G, N, D] query rows that were clustered (original order).</param>
    /// <param name="k">[G, N, D] key rows that were clustered.</param>
    /// <param name="v">[G, N, Dv] values of those keys.</param>
    /// <param name="queryLayout">The query clusters' permuted layout (QC clusters).</param>
    /// <param name="keyLayout">The key clusters' permuted layout (KC clusters).</param>
    /// <param name="means">Means of the same clusters (QC query, KC key clusters).</param>
    /// <param name="mode">The compensation the estimate is for (not None).</param>
    /// <param name="rowsPerCluster">Probed rows per query cluster, at least 1 (see <see cref="DefaultRowsPerCluster"/>).</param>
    /// <returns>[G, QC, KC] float64 scores, at least 0 (float64: they span hundreds of decades).</returns>
    public static Tensor Estimate(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, ClusterMeans means,
        CompensationMode mode, int rowsPerCluster)
    {
        if (mode == CompensationMode.None) throw new ArgumentException("The error probe estimates a compensation; the mode cannot be None.");
        if (rowsPerCluster < 1) throw new ArgumentException($"The probe needs at least 1 row per query cluster (got {rowsPerCluster}).");
        if (q.dim() != 3 || k.dim() != 3 || v.dim() != 3 || queryLayout.Tokens != q.shape[1] || keyLayout.Tokens != k.shape[1]
            || means.QueryClusters != queryLayout.Clusters || means.KeyClusters != keyLayout.Clusters || means.KeyMeans.shape[0] != q.shape[0])
            throw new ArgumentException($"The probe's inputs disagree: q {TensorPredicates.Shape(q)}, k {TensorPredicates.Shape(k)}, v {TensorPredicates.Shape(v)}, " +
                $"layouts of {queryLayout.Tokens} query rows in {queryLayout.Clusters} clusters and {keyLayout.Tokens} key rows in {keyLayout.Clusters}, means of {means.QueryClusters} query and {means.KeyClusters} key clusters.");
        using var scope = NewDisposeScope();
        long groups = q.shape[0], tokens = k.shape[1], queryClusters = queryLayout.Clusters, keyClusters = means.KeyClusters, valueDim = v.shape[2];
        double scale = 1.0 / Math.Sqrt(q.shape[2]);
        var (rows, probed) = ProbedRows(queryLayout, rowsPerCluster);
        long probedRows = rows.shape[1];
        var queries = q.gather(1, rows.unsqueeze(-1).expand(-1, -1, q.shape[2])).to(ScalarType.Float32);
        var scorers = mode == CompensationMode.PerRow ? queries : means.QueryMeans.repeat_interleave(rowsPerCluster, 1);
        var keys32 = ClusterPermutation.Apply(k, keyLayout.Permutation).to(ScalarType.Float32);
        var values32 = ClusterPermutation.Apply(v, keyLayout.Permutation).to(ScalarType.Float32);
        var logSizes = means.KeySizes.to(ScalarType.Float32).log();
        long[] keyOffsets = keyLayout.Offsets.cpu().data<long>().ToArray();

        var squaredError = zeros([groups, probedRows, keyClusters], ScalarType.Float64, q.device);
        var squaredOutput = empty([groups, probedRows], ScalarType.Float64, q.device);
        // The largest temporaries per probed row: its scores and value products over all keys (and clusters).
        long chunk = ChunkBudget.Rows(4 * (tokens + keyClusters), probedRows);
        for (int g = 0; g < groups; g++)
        {
            using var headScope = NewDisposeScope();
            var sameSize = SameSizeClusters.Of(keyOffsets.AsSpan(g * (int)(keyClusters + 1), (int)keyClusters + 1), q.device);
            var values64 = values32[g].to(ScalarType.Float64);
            var valueMeans = means.ValueMeans[g].to(ScalarType.Float64);
            // Per cluster, its values followed by its mean value: [m, n + 1, Dv], and their Gram matrices when smaller.
            var stacked = sameSize.Select(c => cat([values64.index_select(0, c.Rows).reshape(c.Count, c.Size, valueDim),
                valueMeans.index_select(0, c.Clusters).unsqueeze(1)], 1)).ToArray();
            var grams = stacked.Select(x => x.shape[1] < valueDim ? x.bmm(x.transpose(1, 2)) : null).ToArray();
            for (long start = 0; start < probedRows; start += chunk)
            {
                using var inner = NewDisposeScope();
                long count = Math.Min(chunk, probedRows - start);
                var logits = (queries[g].narrow(0, start, count).matmul(keys32[g].t()) * scale).to(ScalarType.Float64);
                var logNormaliser = logits.logsumexp(1, keepdim: true);
                var probabilities = (logits - logNormaliser).exp();
                var output = probabilities.matmul(values64);
                var outputDotValues = output.matmul(values64.t());
                var outputDotMeans = output.matmul(valueMeans.t());
                var compensated = ((scorers[g].narrow(0, start, count).matmul(means.KeyMeans[g].t()) * scale + logSizes[g]).to(ScalarType.Float64) - logNormaliser).exp();
                var outputNorms = output.square().sum(-1);
                for (int c = 0; c < sameSize.Length; c++)
                {
                    var (clusters, size) = (sameSize[c].Clusters, sameSize[c].Size);
                    // x_ib = (p_ij for j in b, -w_ib): then E_ib = sum x (values, v̄_b) - (sum x) o_i.
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

        var blockError = squaredError.reshape(groups, queryClusters, rowsPerCluster, keyClusters).mean([2]);
        var querySizes = queryLayout.Sizes.to(ScalarType.Float64);
        var energy = (querySizes * squaredOutput.reshape(groups, queryClusters, rowsPerCluster).mean([2])).sum(1).clamp_min(1e-30);
        double tokensSquared = (double)tokens * tokens;
        var keySizes = means.KeySizes.to(ScalarType.Float64).unsqueeze(1);
        var score = blockError * tokensSquared / (keySizes.clamp_min(1) * energy.reshape(groups, 1, 1));
        var valid = probed.unsqueeze(-1) & (keySizes > 0);
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

    /// <summary>
    /// The probed rows: for query cluster a of n_a rows, permuted positions offset_a + floor((t + 1/2) n_a / r),
    /// t &lt; r, as original row indices [G, QC x r]; and [G, QC] whether the cluster has rows.
    /// </summary>
    static (Tensor Rows, Tensor Probed) ProbedRows(ClusterLayout layout, int rowsPerCluster)
    {
        long groups = layout.Groups, clusters = layout.Clusters;
        var device = layout.Sizes.device;
        var spread = (arange(rowsPerCluster, ScalarType.Float64, device) + 0.5) / rowsPerCluster;
        var sizes = layout.Sizes.to(ScalarType.Float64).unsqueeze(-1);
        var positions = (layout.Offsets.narrow(1, 0, clusters).unsqueeze(-1) + (sizes * spread).floor().to(ScalarType.Int64))
            .clamp_max(layout.Tokens - 1).reshape(groups, clusters * rowsPerCluster);
        return (layout.Permutation.gather(1, positions), layout.Sizes > 0);
    }
}
