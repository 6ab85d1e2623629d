namespace Svg2.Algorithm;

/// <summary>How the key clusters each query cluster computes exactly are chosen.</summary>
public enum KeyClusterRouting
{
    /// <summary>SVG2's rule: the key clusters covering a top-p share of the size-weighted centroid attention.</summary>
    TopP,

    /// <summary>
    /// Error-aware routing: the blocks where centroid compensation would leave the most error per unit
    /// of cost (<see cref="CompensationErrorProbe"/>, <see cref="ErrorRoutingRule"/>); needs compensation.
    /// </summary>
    ErrorAware,
}
