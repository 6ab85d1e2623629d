using Svg2.Algorithm;
using Svg2.Attention;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Methods;

/// <summary>Dense attention as a compared method: density 1, the reference every error is measured against.</summary>
public sealed record DenseMethod : IAttentionMethod
{
    /// <inheritdoc/>
    public string Name => "dense";

    /// <inheritdoc/>
    public IPreparedAttention Prepare(Tensor q, Tensor k, Tensor v) => new Prepared(q, k, v);

    /// <summary>Every key for every query.</summary>
    public sealed record AllKeysPattern(long Groups, Device Device) : ISparsityPattern
    {
        /// <inheritdoc/>
        public Tensor Allowed(Tensor rows, Tensor probabilities) => ones(probabilities.shape, ScalarType.Bool, probabilities.device);

        /// <inheritdoc/>
        public Tensor Density() => ones([Groups], ScalarType.Float64, Device);
    }

    sealed class Prepared(Tensor q, Tensor k, Tensor v) : IPreparedAttention
    {
        public string? ParameterName => null;
        public (double Min, double Max) ParameterRange => (1, 1);
        public ISparsityPattern Plan(double parameter) => new AllKeysPattern(q.shape[0], q.device);
        public Tensor Attend(ISparsityPattern pattern) => DenseAttention.Forward(q, k, v);
        public void Dispose() { }
    }
}
