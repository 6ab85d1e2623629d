using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// Appends the two text blocks of a joint video-text call (see <see cref="TextTokens"/>) to the
/// video clusters: block QC / KC is the prompt, QC+1 / KC+1 the padding.
/// </summary>
public static class TextBlocks
{
    /// <summary>Text blocks after the video clusters: the prompt and the padding.</summary>
    public const int Count = 2;

    /// <summary>Extends labels to every row and the block mask to [G, QC+2, KC+2].</summary>
    /// <param name="queryLabels">[G, Sv] labels of the video query rows.</param>
    /// <param name="keyLabels">[G, Sv] labels of the video key rows.</param>
    /// <param name="videoMask">[G, QC, KC] selection among video clusters.</param>
    /// <param name="queryClusters">QC.</param>
    /// <param name="keyClusters">KC.</param>
    /// <param name="text">The text rows that follow the video rows.</param>
    public static BlockSparsity Append(Tensor queryLabels, Tensor keyLabels, Tensor videoMask, int queryClusters, int keyClusters, TextTokens text)
    {
        using var scope = NewDisposeScope();
        long groups = videoMask.shape[0];
        var mask = empty([groups, queryClusters + Count, keyClusters + Count], ScalarType.Bool, videoMask.device);
        mask.narrow(1, 0, queryClusters).narrow(2, 0, keyClusters).copy_(videoMask);
        WriteMask(mask, queryClusters, keyClusters);
        var sparsity = new BlockSparsity(
            cat([queryLabels, TextLabels(groups, queryClusters, queryClusters + 1, text, queryLabels.device)], 1),
            cat([keyLabels, TextLabels(groups, keyClusters, keyClusters + 1, text, keyLabels.device)], 1),
            mask);
        return sparsity.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Writes the text rows and columns of a [G, QC+2, KC+2] block mask in place and leaves its video
    /// part [G, QC, KC] alone: video clusters and the prompt attend the prompt, the prompt attends every
    /// video cluster, padding attends only padding, and only padding attends padding.
    /// </summary>
    public static void WriteMask(Tensor mask, int queryClusters, int keyClusters)
    {
        if (mask.dim() != 3 || mask.shape[1] != queryClusters + Count || mask.shape[2] != keyClusters + Count || mask.dtype != ScalarType.Bool)
            throw new ArgumentException($"The mask with text blocks must be bool [G, {queryClusters + Count}, {keyClusters + Count}]; got {mask.dtype} [{string.Join(", ", mask.shape)}].", nameof(mask));
        int promptRow = queryClusters, paddingRow = queryClusters + 1, promptColumn = keyClusters, paddingColumn = keyClusters + 1;
        using var scope = NewDisposeScope();
        mask.narrow(2, keyClusters, Count).fill_(false);
        mask.narrow(1, queryClusters, Count).fill_(false);
        mask.narrow(1, 0, queryClusters + 1).select(2, promptColumn).fill_(true);
        mask.select(1, promptRow).narrow(1, 0, keyClusters).fill_(true);
        mask.select(1, paddingRow).select(1, paddingColumn).fill_(true);
    }

    /// <summary>
    /// Writes the text part of a cluster layout over Sv video rows followed by the text rows, in place:
    /// the text rows keep their positions after the video rows (permutation entries Sv .. S - 1), the
    /// last two clusters are the prompt and the padding, and the offsets from cluster C - 2 on follow.
    /// The video part (permutation entries before Sv, the first C - 2 sizes and offsets) is left alone.
    /// </summary>
    /// <param name="layout">Permutation [G, S], sizes [G, C], offsets [G, C + 1], C = video clusters + 2.</param>
    /// <param name="text">The text rows; S - <see cref="TextTokens.Count"/> rows are video.</param>
    public static void WriteLayout(ClusterLayout layout, TextTokens text)
    {
        long rows = layout.Tokens, videoRows = rows - text.Count, videoClusters = layout.Clusters - Count;
        text.Validate(rows);
        if (videoClusters < 1)
            throw new ArgumentException($"A layout with text blocks needs at least one video cluster and the {Count} text blocks; it has {layout.Clusters} clusters.", nameof(layout));
        using var scope = NewDisposeScope();
        var device = layout.Permutation.device;
        layout.Permutation.narrow(1, videoRows, text.Count).copy_(arange(videoRows, rows, ScalarType.Int64, device).unsqueeze(0));
        layout.Sizes.narrow(1, videoClusters, Count).copy_(tensor(new long[] { text.PromptLength, text.PaddingLength }, device: device).unsqueeze(0));
        layout.Offsets.narrow(1, videoClusters, Count + 1)
            .copy_(tensor(new long[] { videoRows, videoRows + text.PromptLength, rows }, device: device).unsqueeze(0));
    }

    static Tensor TextLabels(long groups, int promptBlock, int paddingBlock, TextTokens text, Device device) =>
        cat([full([groups, text.PromptLength], promptBlock, ScalarType.Int64, device),
             full([groups, text.PaddingLength], paddingBlock, ScalarType.Int64, device)], 1);
}
