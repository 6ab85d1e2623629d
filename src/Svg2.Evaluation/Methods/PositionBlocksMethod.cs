using Svg2.Algorithm;
using Svg2.Backends;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Methods;

/// <summary>
/// The position-based baseline: blocks of consecutive tokens in the original order (no clustering,
/// no permutation), block means as centroids, and the same size-weighted top-p rule. Query and key
/// blocks are cut separately, so they can match SVG2's query and key cluster sizes.
/// </summary>
/// <param name="Query">How query rows are cut.</param>
/// <param name="Key">How key rows are cut.</param>
/// <param name="MinKeyBlockRatio">At least floor(ratio x key blocks) key blocks are kept per query block.</param>
/// <param name="Backend">Stage implementations; the reference when null.</param>
/// <param name="Name">The name in reports.</param>
public sealed record PositionBlocksMethod(PositionBlocking Query, PositionBlocking Key, double MinKeyBlockRatio = 0.10, ISvg2Backend? Backend = null,
    string Name = MethodCatalog.Blocks) : IAttentionMethod
{
    /// <summary>Blocks of <paramref name="blockSize"/> tokens for queries and keys alike.</summary>
    public static PositionBlocksMethod OfSize(int blockSize, double minKeyBlockRatio = 0.10, ISvg2Backend? backend = null, string name = MethodCatalog.Blocks) =>
        new(PositionBlocking.OfSize(blockSize), PositionBlocking.OfSize(blockSize), minKeyBlockRatio, backend, name);

    /// <inheritdoc/>
    public IPreparedAttention Prepare(Tensor q, Tensor k, Tensor v) => new Prepared(this, q, k, v);

    sealed class Prepared : IPreparedAttention
    {
        readonly PositionBlocksMethod method;
        readonly ISvg2Backend backend;
        readonly Tensor q, k, v, queryLabels, keyLabels, queryMeans, keyMeans, keySizes;

        public Prepared(PositionBlocksMethod method, Tensor q, Tensor k, Tensor v)
        {
            (this.method, this.q, this.k, this.v) = (method, q, k, v);
            backend = method.Backend ?? ReferenceBackend.Instance;
            using var scope = NewDisposeScope();
            long groups = q.shape[0];
            queryLabels = method.Query.Labels(q.shape[1], q.device).unsqueeze(0).expand(groups, -1).contiguous();
            keyLabels = method.Key.Labels(k.shape[1], k.device).unsqueeze(0).expand(groups, -1).contiguous();
            queryMeans = KMeans.Update(q.to(ScalarType.Float32), queryLabels, zeros([groups, method.Query.Blocks(q.shape[1]), q.shape[2]], q.dtype, q.device)).Centroids;
            (keyMeans, keySizes) = KMeans.Update(k.to(ScalarType.Float32), keyLabels, zeros([groups, method.Key.Blocks(k.shape[1]), k.shape[2]], k.dtype, k.device));
            foreach (var t in Owned) t.MoveToOuterDisposeScope();
        }

        Tensor[] Owned => [queryLabels, keyLabels, queryMeans, keyMeans, keySizes];

        public string? ParameterName => "top_p";
        public (double Min, double Max) ParameterRange => (1e-6, 1.0);

        public ISparsityPattern Plan(double parameter)
        {
            var rule = new SelectionRule(parameter, method.MinKeyBlockRatio);
            var mask = backend.SelectKeyClusters(queryMeans, keyMeans, keySizes, rule);
            return new BlockSparsity(queryLabels.alias(), keyLabels.alias(), mask) { FloorShare = SelectionFloor.Share(mask, rule.MinimumKept(keyMeans.shape[1])) };
        }

        public Tensor Attend(ISparsityPattern pattern) => backend.Attend(q, k, v, (BlockSparsity)pattern);

        public void Dispose()
        {
            foreach (var t in Owned) t.Dispose();
        }
    }
}
