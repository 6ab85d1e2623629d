using Svg2.Algorithm;
using Svg2.Backends;
using Svg2.Configuration;
using Svg2.Statistics;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// The SVG2 attention operator: per head, k-means on queries and keys (warm-started from the layer's
/// cache), size-weighted top-p selection of key clusters, and exact variable-block sparse attention
/// in the permuted layout, returned in the original token order.
/// </summary>
public sealed class Svg2Attention
{
    /// <summary>Creates the operator.</summary>
    /// <param name="options">Validated on construction.</param>
    /// <param name="backend">Stage implementations; the portable reference when null.</param>
    public Svg2Attention(Svg2Options options, ISvg2Backend? backend = null)
    {
        options.Validate();
        Options = options;
        Backend = backend ?? ReferenceBackend.Instance;
    }

    /// <summary>The configuration.</summary>
    public Svg2Options Options { get; }

    /// <summary>The stage implementations.</summary>
    public ISvg2Backend Backend { get; }

    /// <summary>
    /// Runs one sparse attention call. Each batch element and head is an independent problem.
    /// </summary>
    /// <param name="q">[B, H, S, D] after QK-norm and rotary embedding.</param>
    /// <param name="k">[B, H, S, D].</param>
    /// <param name="v">[B, H, S, D].</param>
    /// <param name="state">The layer's centroid cache: read for the warm start, then overwritten.</param>
    /// <param name="text">Trailing text rows (HunyuanVideo), or null for video only.</param>
    /// <param name="withQualityStatistics">Also measure recall and relative error against dense attention (costs a dense pass, in chunks).</param>
    /// <param name="qualitySampleRows">Measure quality on this many seeded query rows instead of all.</param>
    public Svg2Result Forward(Tensor q, Tensor k, Tensor v, Svg2LayerState state, TextTokens? text = null,
        bool withQualityStatistics = false, long? qualitySampleRows = null)
    {
        AttentionInputs.Validate(q, k, v);
        long batch = q.shape[0], heads = q.shape[1], sequence = q.shape[2];
        using var scope = NewDisposeScope();
        using var clustering = Cluster(q, k, state, text);
        var sparsity = Select(clustering, Options.SelectionRule);
        var (qg, kg, vg) = (AttentionInputs.Flatten(q), AttentionInputs.Flatten(k), AttentionInputs.Flatten(v));
        var output = Attend(qg, kg, vg, sparsity);
        var quality = withQualityStatistics ? AttentionQuality.Measure(qg, kg, vg, output, sparsity, qualitySampleRows, Options.Seed) : null;
        var result = new Svg2Result(output.reshape(batch, heads, sequence, v.shape[3]), sparsity.Density().reshape(batch, heads), sparsity,
            clustering.QueryClusters, clustering.KeyClusters, clustering.Iterations, quality);
        result.Output.MoveToOuterDisposeScope();
        result.Density.MoveToOuterDisposeScope();
        sparsity.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// Runs only the clustering of a call and updates the layer's cache: what the reference does in
    /// dense warm-up calls when "zero-step k-means init" is on. The labels are discarded.
    /// </summary>
    public void RefineCentroids(Tensor q, Tensor k, Svg2LayerState state, TextTokens? text = null) =>
        Cluster(q, k, state, text).Dispose();

    /// <summary>
    /// The clustering stage of a call: k-means on the video rows of q and of k, warm-started from
    /// <paramref name="state"/> when it holds compatible centroids; the state is overwritten.
    /// </summary>
    /// <param name="q">[B, H, S, D].</param>
    /// <param name="k">[B, H, S, D].</param>
    /// <param name="state">The layer's centroid cache.</param>
    /// <param name="text">Trailing text rows, excluded from clustering.</param>
    public Svg2Clustering Cluster(Tensor q, Tensor k, Svg2LayerState state, TextTokens? text = null)
    {
        AttentionInputs.Validate(q, k, k);
        text?.Validate(q.shape[2]);
        using var scope = NewDisposeScope();
        var (qg, kg) = (AttentionInputs.Flatten(q), AttentionInputs.Flatten(k));
        RequireBackendSupport(qg, kg, kg);
        long videoRows = qg.shape[1] - (text?.Count ?? 0);
        var (queryClusters, keyClusters) = Options.ClusterCountsFor(videoRows);
        var queryPoints = qg.narrow(1, 0, videoRows);
        var keyPoints = kg.narrow(1, 0, videoRows);
        var queryStart = state.QueryWarmStart(queryPoints, queryClusters);
        var keyStart = state.KeyWarmStart(keyPoints, keyClusters);
        bool warm = queryStart is not null && keyStart is not null;
        int iterations = warm ? Options.StepIterations : Options.InitIterations;
        queryStart = warm ? queryStart : KMeans.RandomInitialCentroids(queryPoints, queryClusters, Options.Seed);
        keyStart = warm ? keyStart : KMeans.RandomInitialCentroids(keyPoints, keyClusters, Options.Seed + 1);
        var query = Backend.KMeans(queryPoints, queryStart!, iterations);
        var key = Backend.KMeans(keyPoints, keyStart!, iterations);
        state.Store(query.Centroids, key.Centroids);
        query.MoveToOuterDisposeScope();
        key.MoveToOuterDisposeScope();
        return new Svg2Clustering(query, key, queryClusters, keyClusters, iterations, text);
    }

    /// <summary>
    /// The selection stage: the critical key clusters of every query cluster under
    /// <paramref name="rule"/>, with the text blocks appended when the call has text.
    /// </summary>
    public BlockSparsity Select(Svg2Clustering clustering, SelectionRule rule)
    {
        using var scope = NewDisposeScope();
        var mask = Backend.SelectKeyClusters(clustering.Query.Centroids, clustering.Key.Centroids, clustering.Key.Sizes, rule);
        var sparsity = clustering.Text is { } text
            ? TextBlocks.Append(clustering.Query.Labels, clustering.Key.Labels, mask, clustering.QueryClusters, clustering.KeyClusters, text)
            : new BlockSparsity(clustering.Query.Labels.alias(), clustering.Key.Labels.alias(), mask);
        return sparsity.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The attention stage: permutation, variable-block attention over the selected blocks and the
    /// inverse permutation.
    /// </summary>
    /// <param name="qg">[G, S, D].</param>
    /// <param name="kg">[G, S, D].</param>
    /// <param name="vg">[G, S, D].</param>
    /// <param name="sparsity">Blocks from <see cref="Select"/>.</param>
    /// <returns>[G, S, D] in the original token order.</returns>
    public Tensor Attend(Tensor qg, Tensor kg, Tensor vg, BlockSparsity sparsity) => Backend.Attend(qg, kg, vg, sparsity);

    void RequireBackendSupport(Tensor q, Tensor k, Tensor v)
    {
        if (!Backend.Supports(q, k, v, out var reason))
            throw new NotSupportedException($"The {Backend.Name} backend cannot run these inputs: {reason}");
    }
}
