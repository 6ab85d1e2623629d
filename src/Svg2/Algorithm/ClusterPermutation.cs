using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// The stable permutation of tokens by cluster id and its inverse, in TorchSharp operations.
/// </summary>
public static class ClusterPermutation
{
    /// <summary>
    /// Sorts every problem's tokens by cluster id, keeping the original order inside a cluster
    /// (a counting sort expressed as a stable sort), with cluster sizes and offsets.
    /// </summary>
    /// <param name="labels">[G, N] int64 in [0, clusters).</param>
    /// <param name="clusters">Number of clusters C.</param>
    public static ClusterLayout FromLabels(Tensor labels, int clusters)
    {
        if (labels.dim() != 2) throw new ArgumentException($"labels must be [G, N]; got [{string.Join(", ", labels.shape)}].");
        if (labels.dtype != ScalarType.Int64) throw new ArgumentException($"labels must be int64; got {labels.dtype}.");
        if (clusters < 1) throw new ArgumentException($"clusters must be at least 1 (got {clusters}).");
        using var scope = NewDisposeScope();
        var (_, permutation) = labels.sort(1, descending: false, stable: true);
        var sizes = zeros([labels.shape[0], clusters], ScalarType.Int64, labels.device)
            .scatter_add_(1, labels, ones_like(labels));
        var offsets = cat([zeros([labels.shape[0], 1], ScalarType.Int64, labels.device), sizes.cumsum(1)], 1);
        return new ClusterLayout(permutation.contiguous(), sizes, offsets).MoveToOuterDisposeScope();
    }

    /// <summary>Gathers rows into the permuted order: <c>result[g, s] = x[g, permutation[g, s]]</c>.</summary>
    /// <param name="x">[G, N, D].</param>
    /// <param name="permutation">[G, N] int64.</param>
    public static Tensor Apply(Tensor x, Tensor permutation) =>
        x.gather(1, permutation.unsqueeze(-1).expand(-1, -1, x.shape[2]));

    /// <summary>Scatters permuted rows back: <c>result[g, permutation[g, s]] = x[g, s]</c>.</summary>
    /// <param name="x">[G, N, D] in permuted order.</param>
    /// <param name="permutation">[G, N] int64.</param>
    public static Tensor Invert(Tensor x, Tensor permutation) =>
        empty_like(x).scatter_(1, permutation.unsqueeze(-1).expand(-1, -1, x.shape[2]), x);
}
