using Svg2.Evaluation.Methods;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// How far a clustering's clusters reach on the video grid, per group (head): <see cref="MeanDistance"/>,
/// the mean over tokens of the Euclidean distance, in token units along t, h and w, from a token's
/// (t, h, w) to the mean position of its cluster; and <see cref="MeanClusterSize"/>, the mean over tokens
/// of the size of the token's cluster (large when a few big clusters hold many tokens, which a
/// block-sparse selection keeps or drops as a whole).
/// </summary>
/// <param name="MeanDistance">[G] mean distance of a token from its cluster's mean position.</param>
/// <param name="MeanClusterSize">[G] mean size of a token's cluster.</param>
public sealed record ClusterSpread(double[] MeanDistance, double[] MeanClusterSize)
{
    /// <summary>Measures the clusters <paramref name="labels"/> assigns on <paramref name="grid"/>.</summary>
    /// <param name="labels">[G, S] int64 cluster of every token, in grid order (k-means labels or position blocks).</param>
    /// <param name="grid">The token grid of the S tokens.</param>
    public static ClusterSpread Measure(Tensor labels, TokenGrid grid)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.dim() != 2 || labels.shape[1] != grid.Tokens)
            throw new ArgumentException($"labels [{string.Join(", ", labels.shape)}] must be [G, S] with S = {grid.Tokens}, the grid's tokens.");
        using var scope = NewDisposeScope();
        long groups = labels.shape[0], tokens = grid.Tokens;
        long clusters = labels.max().item<long>() + 1;
        var position = grid.Coordinates(labels.device).to(ScalarType.Float64).unsqueeze(0).expand(groups, -1, -1);
        var index = labels.to(ScalarType.Int64);
        var sizes = zeros([groups, clusters], ScalarType.Float64, labels.device).scatter_add_(1, index, ones([groups, tokens], ScalarType.Float64, labels.device));
        var sums = zeros([groups, clusters, 3], ScalarType.Float64, labels.device).scatter_add_(1, index.unsqueeze(-1).expand(-1, -1, 3), position);
        // Empty clusters have no members, so their mean is never gathered; the clamp only avoids 0 / 0.
        var means = sums / sizes.clamp_min(1).unsqueeze(-1);
        var ownMean = means.gather(1, index.unsqueeze(-1).expand(-1, -1, 3));
        var distance = (position - ownMean).square().sum(-1).sqrt().mean([1]);
        var ownSize = sizes.gather(1, index).mean([1]);
        return new ClusterSpread(distance.cpu().data<double>().ToArray(), ownSize.cpu().data<double>().ToArray());
    }
}
