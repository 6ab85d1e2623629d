using Svg2.Attention;
using Svg2.Backends;
using Svg2.Configuration;
using Svg2.Statistics;
using static TorchSharp.torch;

namespace Svg2.Methods;

/// <summary>SVG2 as a compared method: k-means clusters, top_p as the budget parameter.</summary>
/// <param name="Options">Operator options; top_p is replaced by the planned parameter.</param>
/// <param name="Backend">Stage implementations; the reference when null.</param>
/// <param name="Text">Trailing text rows of the inputs (HunyuanVideo), or null.</param>
/// <param name="State">
/// The layer cache to cluster from and update, as in a model's later denoising steps (warm start,
/// <see cref="Svg2Options.StepIterations"/>); null for a fresh cache and a cold start every time.
/// </param>
public sealed record Svg2Method(Svg2Options Options, ISvg2Backend? Backend = null, TextTokens? Text = null, Svg2LayerState? State = null) : IAttentionMethod
{
    /// <inheritdoc/>
    public string Name => "svg2";

    /// <inheritdoc/>
    public IPreparedAttention Prepare(Tensor q, Tensor k, Tensor v) => new Prepared(this, q, k, v);

    sealed class Prepared : IPreparedAttention
    {
        readonly Svg2Attention attention;
        readonly Svg2Clustering clustering;
        readonly Tensor q, k, v;
        readonly Svg2Options options;

        public Prepared(Svg2Method method, Tensor q, Tensor k, Tensor v)
        {
            (this.q, this.k, this.v, options) = (q, k, v, method.Options);
            attention = new Svg2Attention(method.Options, method.Backend);
            using var fresh = method.State is null ? new Svg2LayerState() : null;
            clustering = attention.Cluster(q.unsqueeze(0), k.unsqueeze(0), method.State ?? fresh!, method.Text);
        }

        public string? ParameterName => "top_p";
        public (double Min, double Max) ParameterRange => (1e-6, 1.0);
        public ISparsityPattern Plan(double parameter) => attention.Select(clustering, options.SelectionRule with { TopP = parameter });
        public Tensor Attend(ISparsityPattern pattern) => attention.Attend(q, k, v, (BlockSparsity)pattern);
        public void Dispose() => clustering.Dispose();
    }
}
