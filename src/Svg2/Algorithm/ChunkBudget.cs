namespace Svg2.Algorithm;

/// <summary>
/// How large the temporary tensors of the reference path may grow. Work that would be quadratic in
/// the sequence length is split into row chunks that stay under this budget, so nothing of size
/// N x N is ever allocated.
/// </summary>
public static class ChunkBudget
{
    /// <summary>Float32 elements allowed in one temporary (256 MiB).</summary>
    public const long MaxElements = 64L * 1024 * 1024;

    /// <summary>
    /// Rows per chunk when each row costs <paramref name="elementsPerRow"/> elements; at least 1.
    /// </summary>
    public static long Rows(long elementsPerRow, long totalRows) =>
        Math.Clamp(MaxElements / Math.Max(1, elementsPerRow), 1, Math.Max(1, totalRows));
}
