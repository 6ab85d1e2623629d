namespace Svg2.Attention;

/// <summary>Whether the guidance passes of a step share one centroid cache per layer.</summary>
public enum CacheSharing
{
    /// <summary>One cache per layer for all passes (the reference's behaviour: step t conditional,
    /// step t unconditional, step t+1 conditional, ... each warm-starts from the previous).</summary>
    SharedAcrossPasses,

    /// <summary>One cache per layer and pass; a deviation from the reference.</summary>
    PerPass,
}
