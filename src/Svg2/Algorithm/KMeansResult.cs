using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// The outcome of batched k-means. Labels, sizes and centroids come from the same final assignment:
/// every non-empty centroid is the mean of the points carrying its label; an empty cluster keeps
/// its previous centroid and has size 0.
/// </summary>
/// <param name="Labels">[G, N] int64 cluster id of each point.</param>
/// <param name="Centroids">[G, K, D] in the dtype of the points.</param>
/// <param name="Sizes">[G, K] int64 members per cluster.</param>
public sealed record KMeansResult(Tensor Labels, Tensor Centroids, Tensor Sizes) : IDisposable
{
    /// <summary>Moves the tensors to the enclosing dispose scope's parent.</summary>
    public KMeansResult MoveToOuterDisposeScope()
    {
        Labels.MoveToOuterDisposeScope();
        Centroids.MoveToOuterDisposeScope();
        Sizes.MoveToOuterDisposeScope();
        return this;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Labels.Dispose();
        Centroids.Dispose();
        Sizes.Dispose();
    }
}
