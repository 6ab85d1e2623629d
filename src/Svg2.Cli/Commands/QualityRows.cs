namespace Svg2.Cli.Commands;

/// <summary>
/// How many query rows the quality figures cover by default: every row of a short sequence, a
/// seeded sample of a long one (each measured row costs a dense attention row).
/// </summary>
internal static class QualityRows
{
    public const long FullBelow = 2048;
    public const long Sample = 1024;
}
