namespace Svg2.Algorithm;

/// <summary>How the contribution of a key cluster that is not computed exactly is approximated.</summary>
public enum CompensationMode
{
    /// <summary>Skipped key clusters contribute nothing (SVG2).</summary>
    None,

    /// <summary>
    /// Each query row i adds n_b exp(q_i . c_b / sqrt(D) - m_i) to its softmax denominator, and that times
    /// v̄_b to its numerator, for every skipped key cluster b: a [rows x KC] product per query tile. Exact
    /// for a cluster whose keys are all equal and whose values are all equal.
    /// </summary>
    PerRow,

    /// <summary>
    /// As <see cref="PerRow"/> but with the score of the query cluster's mean q̄_a in place of q_i:
    /// no per-row product (the [QC x KC] centroid scores of the selection serve every row).
    /// </summary>
    PerQueryCluster,
}
