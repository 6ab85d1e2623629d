using Svg2.Statistics;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// Appends the two text blocks of a joint video-text call (see <see cref="TextTokens"/>) to the
/// video clusters: block QC / KC is the prompt, QC+1 / KC+1 the padding.
/// </summary>
public static class TextBlocks
{
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
        var mask = zeros([groups, queryClusters + 2, keyClusters + 2], ScalarType.Bool, videoMask.device);
        int promptRow = queryClusters, paddingRow = queryClusters + 1, promptColumn = keyClusters, paddingColumn = keyClusters + 1;
        mask.narrow(1, 0, queryClusters).narrow(2, 0, keyClusters).copy_(videoMask);
        mask.narrow(1, 0, queryClusters + 1).select(2, promptColumn).fill_(true);
        mask.select(1, promptRow).narrow(1, 0, keyClusters).fill_(true);
        mask.select(1, paddingRow).select(1, paddingColumn).fill_(true);
        var sparsity = new BlockSparsity(
            cat([queryLabels, TextLabels(groups, promptRow, paddingRow, text, queryLabels.device)], 1),
            cat([keyLabels, TextLabels(groups, promptColumn, paddingColumn, text, keyLabels.device)], 1),
            mask);
        return sparsity.MoveToOuterDisposeScope();
    }

    static Tensor TextLabels(long groups, int promptBlock, int paddingBlock, TextTokens text, Device device) =>
        cat([full([groups, text.PromptLength], promptBlock, ScalarType.Int64, device),
             full([groups, text.PaddingLength], paddingBlock, ScalarType.Int64, device)], 1);
}
