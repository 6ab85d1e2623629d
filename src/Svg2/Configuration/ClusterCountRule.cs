namespace Svg2.Configuration;

/// <summary>
/// How configured cluster counts shrink on short sequences: a count is capped so that clusters
/// average at least a minimum number of tokens, <c>min(count, max(1, floor(tokens / minTokens)))</c>.
/// </summary>
/// <remarks>
/// A centroid needs a few members to stand for them: query clusters keep at least 8 tokens and key
/// clusters at least 4 on average. Smaller clusters describe attention more finely (on short
/// sequences the reference counts would exceed the token count), at a k-means cost that is small
/// there. Every reference configuration (query clusters of 141 to 297 tokens, key clusters of 32
/// to 119) is left unchanged by this rule. On a GPU, query clusters under 64 tokens leave tensor-core
/// row tiles partly empty; that matters only for sequences far shorter than a video's.
/// </remarks>
public static class ClusterCountRule
{
    /// <summary>Smallest average query-cluster size kept by scaling.</summary>
    public const int MinTokensPerQueryCluster = 8;

    /// <summary>Smallest average key-cluster size kept by scaling.</summary>
    public const int MinTokensPerKeyCluster = 4;

    /// <summary>The scaled count.</summary>
    public static int Scale(int configured, long tokens, int minTokensPerCluster) =>
        (int)Math.Min(configured, Math.Max(1, tokens / minTokensPerCluster));
}
