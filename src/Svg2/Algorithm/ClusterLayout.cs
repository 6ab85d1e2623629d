using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// Where each cluster's tokens sit after the stable permutation by cluster id, for a batch of G
/// independent problems (G = batch x heads).
/// </summary>
/// <remarks>
/// Row <c>s</c> of the permuted sequence holds original token <c>Permutation[g, s]</c>; cluster
/// <c>c</c> occupies permuted rows <c>[Offsets[g, c], Offsets[g, c + 1])</c>, and clusters appear in
/// cluster-id order. Zero-size clusters are legal.
/// </remarks>
/// <param name="Permutation">[G, N] int64: original index of each permuted row (a gather index).</param>
/// <param name="Sizes">[G, C] int64: tokens per cluster.</param>
/// <param name="Offsets">[G, C + 1] int64: exclusive prefix sum of <paramref name="Sizes"/>.</param>
public sealed record ClusterLayout(Tensor Permutation, Tensor Sizes, Tensor Offsets) : IDisposable
{
    /// <summary>Number of independent problems G.</summary>
    public long Groups => Sizes.shape[0];

    /// <summary>Number of clusters C.</summary>
    public long Clusters => Sizes.shape[1];

    /// <summary>Tokens per problem N.</summary>
    public long Tokens => Permutation.shape[1];

    /// <summary>Moves the tensors to the enclosing dispose scope's parent.</summary>
    public ClusterLayout MoveToOuterDisposeScope()
    {
        Permutation.MoveToOuterDisposeScope();
        Sizes.MoveToOuterDisposeScope();
        Offsets.MoveToOuterDisposeScope();
        return this;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Permutation.Dispose();
        Sizes.Dispose();
        Offsets.Dispose();
    }
}
