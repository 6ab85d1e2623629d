using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Backends;
using Svg2.Configuration;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Methods;

/// <summary>
/// SVG2 as a compared method: k-means clusters, then the exact blocks by the options' routing. Plain
/// SVG2 (<c>svg2</c>) has top_p as its budget parameter; with centroid compensation the method is
/// <c>svg2-ear</c>, whose budget under error-aware routing is the level -log10 λ (<see cref="ErrorRoutingRule.Level"/>).
/// </summary>
/// <param name="Options">Operator options; the budget (top_p or λ) is replaced by the planned parameter.</param>
/// <param name="Backend">Stage implementations; the reference when null (and for compensation, which only the reference has).</param>
/// <param name="Text">Trailing text rows of the inputs (HunyuanVideo), or null.</param>
/// <param name="State">
/// The layer cache to cluster from and update, as in a model's later denoising steps (warm start,
/// <see cref="Svg2Options.StepIterations"/>); null for a fresh cache and a cold start every time.
/// </param>
public sealed record Svg2Method(Svg2Options Options, ISvg2Backend? Backend = null, TextTokens? Text = null, Svg2LayerState? State = null) : IAttentionMethod
{
    /// <inheritdoc/>
    public string Name => Options.Compensation == CompensationMode.None ? MethodCatalog.Svg2 : MethodCatalog.Svg2Ear;

    /// <inheritdoc/>
    public IPreparedAttention Prepare(Tensor q, Tensor k, Tensor v) => new Prepared(this, q, k, v);

    /// <summary>The clustering, and with compensation the cluster means and routing scores: all that does not depend on the budget.</summary>
    sealed class Prepared : IPreparedAttention
    {
        readonly Svg2Attention attention;
        readonly Svg2Clustering clustering;
        readonly ClusterMeans? means;
        readonly Tensor? scores;
        readonly Tensor q, k, v;
        readonly Svg2Options options;

        public Prepared(Svg2Method method, Tensor q, Tensor k, Tensor v)
        {
            (this.q, this.k, this.v, options) = (q, k, v, method.Options);
            attention = new Svg2Attention(method.Options, method.Backend);
            using var fresh = method.State is null ? new Svg2LayerState() : null;
            clustering = attention.Cluster(q.unsqueeze(0), k.unsqueeze(0), method.State ?? fresh!, method.Text);
            if (options.Compensation == CompensationMode.None) return;
            means = attention.Means(q, k, v, clustering);
            if (options.Routing == KeyClusterRouting.ErrorAware) scores = attention.RoutingScores(k, v, clustering, means);
        }

        public string? ParameterName => scores is null ? "top_p" : "-log10 λ";
        public (double Min, double Max) ParameterRange => scores is null ? (1e-6, 1.0) : ErrorRoutingRule.LevelRange;

        public ISparsityPattern Plan(double parameter) => scores is null
            ? attention.Select(clustering, options.SelectionRule with { TopP = parameter })
            : attention.SelectByError(clustering, scores, options.ErrorRoutingRule with { Threshold = ErrorRoutingRule.ThresholdAt(parameter) });

        public Tensor Attend(ISparsityPattern pattern) => attention.Attend(q, k, v, (BlockSparsity)pattern, means);

        public void Dispose()
        {
            clustering.Dispose();
            means?.Dispose();
            scores?.Dispose();
        }
    }
}
