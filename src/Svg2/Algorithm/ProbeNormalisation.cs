namespace Svg2.Algorithm;

/// <summary>
/// Where the routing probe (<see cref="CompensationErrorProbe"/>) takes a query cluster's softmax normaliser lse_a
/// and output o_a from, against which it measures what compensating each key cluster would miss.
/// </summary>
public enum ProbeNormalisation
{
    /// <summary>
    /// The exact softmax of the query cluster's mean over every key (or the probe's key sample): a pass over all
    /// keys before the per-block pass.
    /// </summary>
    Exact,

    /// <summary>
    /// The softmax over the key clusters' centroids, each weighted by its size: lse_a = log sum_b n_b exp(q̄_a . c_b
    /// scale) and o_a the matching mean of the clusters' mean values, the output compensation alone would give. A
    /// [QC x KC] product instead of a pass over the keys; it routed as well as or better than the exact normaliser
    /// on the inputs measured (docs/quality.md).
    /// </summary>
    Centroid,
}
