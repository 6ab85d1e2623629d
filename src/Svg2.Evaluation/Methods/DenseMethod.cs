using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Configuration;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Methods;

/// <summary>Dense attention as a compared method: density 1, the reference every error is measured against.</summary>
/// <param name="Precision">The attention's numerics.</param>
/// <param name="Fp8">FP8's settings under <see cref="AttentionPrecision.Fp8"/>; the defaults when null.</param>
public sealed record DenseMethod(AttentionPrecision Precision = AttentionPrecision.BFloat16, Fp8AttentionSettings? Fp8 = null) : IAttentionMethod
{
    /// <inheritdoc/>
    public string Name => "dense";

    /// <inheritdoc/>
    public IPreparedAttention Prepare(Tensor q, Tensor k, Tensor v) => new Prepared(this, q, k, v);

    /// <summary>Every key for every query.</summary>
    public sealed record AllKeysPattern(long Groups, Device Device) : ISparsityPattern
    {
        /// <inheritdoc/>
        public Tensor Allowed(Tensor rows, Tensor probabilities) => ones(probabilities.shape, ScalarType.Bool, probabilities.device);

        /// <inheritdoc/>
        public Tensor Density() => ones([Groups], ScalarType.Float64, Device);
    }

    sealed class Prepared(DenseMethod method, Tensor q, Tensor k, Tensor v) : IPreparedAttention
    {
        public string? ParameterName => null;
        public (double Min, double Max) ParameterRange => (1, 1);
        public ISparsityPattern Plan(double parameter) => new AllKeysPattern(q.shape[0], q.device);
        public Tensor Attend(ISparsityPattern pattern) => DenseAttention.Forward(q, k, v, method.Precision, method.Fp8 ?? Fp8AttentionSettings.Default);
        public void Dispose() { }
    }
}
