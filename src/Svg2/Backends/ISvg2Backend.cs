using Svg2.Configuration;
using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Backends;

/// <summary>
/// The stages of one SVG2 call, as one implementation runs them. The portable reference
/// (<see cref="ReferenceBackend"/>) uses TorchSharp operations on any device; a fast backend (the
/// CUDA kernels) implements the same contract and is checked against the reference.
/// </summary>
/// <remarks>
/// Every tensor argument is batched over G independent problems (G = batch x heads), laid out
/// contiguously as [G, ...]. Implementations must not synchronise the device with the host in the
/// steady state and must never materialise anything of size N x N.
/// </remarks>
public interface ISvg2Backend
{
    /// <summary>A short name for reports.</summary>
    string Name { get; }

    /// <summary>
    /// Whether this backend can run a problem with these [G, N, D] inputs; when it cannot,
    /// <paramref name="reason"/> says why (device, dtype, head dimension, layout).
    /// </summary>
    bool Supports(Tensor q, Tensor k, Tensor v, out string? reason);

    /// <summary>
    /// Lloyd's k-means under squared Euclidean distance, a fixed number of iterations, from the given
    /// initial centroids. Ties go to the lowest cluster id; empty clusters keep their centroid. A NaN
    /// distance beats every number and the lowest id among NaNs wins, as torch.argmin does
    /// (docs/design.md, "Non-finite inputs").
    /// </summary>
    /// <param name="points">[G, N, D].</param>
    /// <param name="initialCentroids">[G, K, D], same dtype as <paramref name="points"/>.</param>
    /// <param name="iterations">At least 1.</param>
    /// <param name="precision">The distance products' numerics (<see cref="KMeansPrecision"/>); a backend that cannot
    /// compute <see cref="KMeansPrecision.Fp8"/> products throws <see cref="NotSupportedException"/> saying why.</param>
    KMeansResult KMeans(Tensor points, Tensor initialCentroids, int iterations, KMeansPrecision precision = KMeansPrecision.Input);

    /// <summary>
    /// The stable permutation by cluster id (a counting sort), cluster sizes and offsets.
    /// </summary>
    /// <param name="labels">[G, N] int64 in [0, <paramref name="clusters"/>).</param>
    /// <param name="clusters">Number of clusters C.</param>
    ClusterLayout Layout(Tensor labels, int clusters);

    /// <summary>
    /// The critical key clusters of every query cluster by the size-weighted centroid top-p rule. A row
    /// whose probabilities are NaN (a NaN or infinite score) keeps the rule's minimum, the lowest ids.
    /// </summary>
    /// <param name="queryCentroids">[G, QC, D].</param>
    /// <param name="keyCentroids">[G, KC, D].</param>
    /// <param name="keySizes">[G, KC] int64.</param>
    /// <param name="rule">The top-p rule.</param>
    /// <returns>[G, QC, KC] bool.</returns>
    Tensor SelectKeyClusters(Tensor queryCentroids, Tensor keyCentroids, Tensor keySizes, SelectionRule rule);

    /// <summary>
    /// Exact attention of each query over the union of the key clusters its cluster selected,
    /// returned in the original token order.
    /// </summary>
    /// <param name="q">[G, Nq, D] in original token order.</param>
    /// <param name="k">[G, Nk, D] in original token order.</param>
    /// <param name="v">[G, Nk, D] in original token order.</param>
    /// <param name="queryLayout">Clusters of the query rows (QC' clusters).</param>
    /// <param name="keyLayout">Clusters of the key rows (KC' clusters).</param>
    /// <param name="blockMask">[G, QC', KC'] bool.</param>
    /// <param name="scale">Softmax scale, normally 1/sqrt(D).</param>
    /// <returns>[G, Nq, D] in the dtype of <paramref name="q"/>; a row with no selected key is 0.</returns>
    Tensor BlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale);
}
