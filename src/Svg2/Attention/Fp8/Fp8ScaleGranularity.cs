namespace Svg2.Attention.Fp8;

/// <summary>Which rows of Q and of K share one FP8 scale.</summary>
public enum Fp8ScaleGranularity
{
    /// <summary>One scale for all of a head's queries and one for all of its keys.</summary>
    PerHead,

    /// <summary>
    /// One scale per tile of <see cref="Fp8Tiles.QueryTileRows"/> query rows and per tile of
    /// <see cref="Fp8Tiles.KeyTileRows"/> key rows, in the row order the attention reads.
    /// </summary>
    PerTile,

    /// <summary>
    /// One scale per query row and per key row: in a kernel, the same per-row and per-column factors on the
    /// logit accumulator as <see cref="PerTile"/>, with one float per token instead of one per tile.
    /// </summary>
    PerToken,

    /// <summary>
    /// One scale per query row and one per head for the keys: in a kernel the key's factor joins the row's, one
    /// factor per row of the logit accumulator, which spares <see cref="PerToken"/>'s multiply (and load) per logit.
    /// Measured: 5-10% more attention error than <see cref="PerToken"/> on the mean, 14-20% in the worst head, and
    /// 4.6 dB less end to end on the small model (docs/quality.md); the kernel is 11-13% faster.
    /// </summary>
    PerTokenQueriesPerHeadKeys,
}
