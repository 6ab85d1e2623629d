namespace Svg2.Configuration;

/// <summary>
/// How configured cluster counts shrink on short sequences: a count is capped so that clusters
/// average at least a minimum number of tokens, <c>min(count, max(1, floor(tokens / minTokens)))</c>.
/// </summary>
/// <remarks>
/// Query clusters become tensor-core row tiles, so they are kept at 64 tokens or more on average;
/// key rows are gathered individually, so key clusters may be as small as 16 tokens. Every
/// reference configuration (query clusters of 141 to 297 tokens, key clusters of 32 to 119)
/// is left unchanged by this rule.
/// </remarks>
public static class ClusterCountRule
{
    /// <summary>Smallest average query-cluster size kept by scaling.</summary>
    public const int MinTokensPerQueryCluster = 64;

    /// <summary>Smallest average key-cluster size kept by scaling.</summary>
    public const int MinTokensPerKeyCluster = 16;

    /// <summary>The scaled count.</summary>
    public static int Scale(int configured, long tokens, int minTokensPerCluster) =>
        (int)Math.Min(configured, Math.Max(1, tokens / minTokensPerCluster));
}
