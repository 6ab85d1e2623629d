using Svg2.Algorithm;
using Svg2.Backends;
using Svg2.Statistics;
using static TorchSharp.torch;

namespace Svg2.Methods;

/// <summary>
/// The position-based baseline: fixed blocks of consecutive tokens in the original order (no
/// clustering, no permutation), block means as centroids, and the same size-weighted top-p rule.
/// </summary>
/// <param name="BlockSize">Tokens per block (64 by default); the last block may be shorter.</param>
/// <param name="MinKeyBlockRatio">At least floor(ratio x blocks) key blocks are kept per query block.</param>
/// <param name="Backend">Stage implementations; the reference when null.</param>
public sealed record PositionBlocksMethod(int BlockSize = 64, double MinKeyBlockRatio = 0.10, ISvg2Backend? Backend = null) : IAttentionMethod
{
    /// <inheritdoc/>
    public string Name => "blocks";

    /// <inheritdoc/>
    public IPreparedAttention Prepare(Tensor q, Tensor k, Tensor v)
    {
        if (BlockSize < 1) throw new ArgumentException($"Block size must be at least 1 (got {BlockSize}).");
        return new Prepared(this, q, k, v);
    }

    sealed class Prepared : IPreparedAttention
    {
        readonly PositionBlocksMethod method;
        readonly ISvg2Backend backend;
        readonly Tensor q, k, v, labels, queryMeans, keyMeans, keySizes;

        public Prepared(PositionBlocksMethod method, Tensor q, Tensor k, Tensor v)
        {
            (this.method, this.q, this.k, this.v) = (method, q, k, v);
            backend = method.Backend ?? ReferenceBackend.Instance;
            using var scope = NewDisposeScope();
            long groups = q.shape[0], tokens = q.shape[1], blocks = (tokens + method.BlockSize - 1) / method.BlockSize;
            labels = arange(tokens, ScalarType.Int64, q.device).div(method.BlockSize, rounding_mode: RoundingMode.floor).unsqueeze(0).expand(groups, tokens).contiguous();
            var start = zeros([groups, blocks, q.shape[2]], q.dtype, q.device);
            queryMeans = KMeans.Update(q.to(ScalarType.Float32), labels, start).Centroids;
            (keyMeans, keySizes) = KMeans.Update(k.to(ScalarType.Float32), labels, start);
            foreach (var t in new[] { labels, queryMeans, keyMeans, keySizes }) t.MoveToOuterDisposeScope();
        }

        public string? ParameterName => "top_p";
        public (double Min, double Max) ParameterRange => (1e-6, 1.0);

        public ISparsityPattern Plan(double parameter) =>
            new BlockSparsity(labels.alias(), labels.alias(), backend.SelectKeyClusters(queryMeans, keyMeans, keySizes, new SelectionRule(parameter, method.MinKeyBlockRatio)));

        public Tensor Attend(ISparsityPattern pattern) => backend.Attend(q, k, v, (BlockSparsity)pattern);

        public void Dispose()
        {
            foreach (var t in new[] { labels, queryMeans, keyMeans, keySizes }) t.Dispose();
        }
    }
}
