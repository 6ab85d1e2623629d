using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Methods;

/// <summary>
/// The token-level oracle, an upper bound no block method can beat at equal density: every query
/// keeps the round(fraction x Nk) keys of highest exact attention probability and attends them with
/// an exact softmax. It needs the dense scores, so it is a yardstick, not a speed-up.
/// </summary>
public sealed record TokenOracleMethod : IAttentionMethod
{
    /// <inheritdoc/>
    public string Name => "oracle";

    /// <inheritdoc/>
    public IPreparedAttention Prepare(Tensor q, Tensor k, Tensor v) => new Prepared(q, k, v);

    /// <summary>The pattern that keeps each row's top <see cref="KeptKeys"/> keys.</summary>
    public sealed record TopKeysPattern(long KeptKeys, long Groups, long Keys, Device Device) : ISparsityPattern
    {
        /// <inheritdoc/>
        public Tensor Allowed(Tensor rows, Tensor probabilities)
        {
            using var scope = NewDisposeScope();
            var top = probabilities.topk((int)KeptKeys, dim: -1).indexes;
            return zeros(probabilities.shape, ScalarType.Bool, probabilities.device).scatter_(-1, top, ones(top.shape, ScalarType.Bool, top.device)).MoveToOuterDisposeScope();
        }

        /// <inheritdoc/>
        public Tensor Density() => full([Groups], (double)KeptKeys / Keys, ScalarType.Float64, Device);
    }

    sealed class Prepared(Tensor q, Tensor k, Tensor v) : IPreparedAttention
    {
        public string? ParameterName => "kept";
        public (double Min, double Max) ParameterRange => (0, 1);

        public ISparsityPattern Plan(double parameter) =>
            new TopKeysPattern(Math.Clamp((long)Math.Round(parameter * k.shape[1]), 1, k.shape[1]), q.shape[0], k.shape[1], q.device);

        public Tensor Attend(ISparsityPattern pattern)
        {
            using var scope = NewDisposeScope();
            long groups = q.shape[0], queries = q.shape[1], keys = k.shape[1];
            double scale = 1 / Math.Sqrt(q.shape[2]);
            var keysT = k.to(ScalarType.Float32).transpose(1, 2);
            var values = v.to(ScalarType.Float32);
            var output = empty([groups, queries, v.shape[2]], ScalarType.Float32, q.device);
            long chunk = ChunkBudget.Rows(3 * groups * keys, queries);
            for (long start = 0; start < queries; start += chunk)
            {
                using var inner = NewDisposeScope();
                long length = Math.Min(chunk, queries - start);
                var probabilities = (q.narrow(1, start, length).to(ScalarType.Float32).bmm(keysT) * scale).softmax(-1);
                var kept = probabilities * pattern.Allowed(arange(start, start + length, 1, ScalarType.Int64, q.device), probabilities);
                output.narrow(1, start, length).copy_(kept.bmm(values) / kept.sum(-1, keepdim: true));
            }
            return output.to(q.dtype).MoveToOuterDisposeScope();
        }

        public void Dispose() { }
    }
}
