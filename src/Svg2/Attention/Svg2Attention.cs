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
        text?.Validate(sequence);
        RequireBackendSupport(q, k, v);

        using var scope = NewDisposeScope();
        var (qg, kg, vg) = (AttentionInputs.Flatten(q), AttentionInputs.Flatten(k), AttentionInputs.Flatten(v));
        var clusters = Cluster(qg, kg, state, text);
        var mask = Backend.SelectKeyClusters(clusters.Query.Centroids, clusters.Key.Centroids, clusters.Key.Sizes, Options.SelectionRule);
        var sparsity = text is { } t
            ? TextBlocks.Append(clusters.Query.Labels, clusters.Key.Labels, mask, clusters.QueryClusters, clusters.KeyClusters, t)
            : new BlockSparsity(clusters.Query.Labels, clusters.Key.Labels, mask);
        using var queryLayout = Backend.Layout(sparsity.QueryLabels, (int)sparsity.BlockMask.shape[1]);
        using var keyLayout = Backend.Layout(sparsity.KeyLabels, (int)sparsity.BlockMask.shape[2]);
        var output = Backend.BlockSparseAttention(qg, kg, vg, queryLayout, keyLayout, sparsity.BlockMask, 1.0 / Math.Sqrt(q.shape[3]));
        state.Store(clusters.Query.Centroids, clusters.Key.Centroids);

        var quality = withQualityStatistics ? AttentionQuality.Measure(qg, kg, vg, output, sparsity, qualitySampleRows, Options.Seed) : null;
        var density = sparsity.Density().reshape(batch, heads);
        var result = new Svg2Result(output.reshape(batch, heads, sequence, v.shape[3]), density, sparsity,
            clusters.QueryClusters, clusters.KeyClusters, clusters.Iterations, quality);
        result.Output.MoveToOuterDisposeScope();
        result.Density.MoveToOuterDisposeScope();
        sparsity.QueryLabels.MoveToOuterDisposeScope();
        sparsity.KeyLabels.MoveToOuterDisposeScope();
        sparsity.BlockMask.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// Runs only the clustering of a call and updates the layer's cache: what the reference does in
    /// dense warm-up calls when "zero-step k-means init" is on. The labels are discarded.
    /// </summary>
    public void RefineCentroids(Tensor q, Tensor k, Svg2LayerState state, TextTokens? text = null)
    {
        AttentionInputs.Validate(q, k, k);
        text?.Validate(q.shape[2]);
        RequireBackendSupport(q, k, k);
        using var scope = NewDisposeScope();
        var clusters = Cluster(AttentionInputs.Flatten(q), AttentionInputs.Flatten(k), state, text);
        state.Store(clusters.Query.Centroids, clusters.Key.Centroids);
    }

    void RequireBackendSupport(Tensor q, Tensor k, Tensor v)
    {
        if (!Backend.Supports(q, k, v, out var reason))
            throw new NotSupportedException($"The {Backend.Name} backend cannot run these inputs: {reason}");
    }

    sealed record Clustering(KMeansResult Query, KMeansResult Key, int QueryClusters, int KeyClusters, int Iterations);

    Clustering Cluster(Tensor qg, Tensor kg, Svg2LayerState state, TextTokens? text)
    {
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
        return new Clustering(query, key, queryClusters, keyClusters, iterations);
    }
}
