using Svg2.Algorithm;
using Svg2.Attention;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention;

public class TextBlocksTests
{
    const int Groups = 2, QueryClusters = 5, KeyClusters = 7;

    static Tensor RandomMask(int seed, long rows, long columns) =>
        TestTensors.Normal(seed, [Groups, rows, columns]) > 0;

    static bool Same(Tensor actual, Tensor expected) => actual.shape.SequenceEqual(expected.shape) && (actual == expected).all().item<bool>();

    [Fact]
    public void WriteMaskGivesTheTextRowsAndColumnsOfAppendAndKeepsTheVideoPart()
    {
        var videoMask = RandomMask(1, QueryClusters, KeyClusters);
        var text = new TextTokens(6, 4);
        var labels = zeros([Groups, 10], ScalarType.Int64);
        using var appended = TextBlocks.Append(labels, labels, videoMask, QueryClusters, KeyClusters, text);

        // A buffer holding anything at all: every text entry must be written, the video part kept.
        var buffer = RandomMask(2, QueryClusters + TextBlocks.Count, KeyClusters + TextBlocks.Count);
        var videoBefore = buffer.narrow(1, 0, QueryClusters).narrow(2, 0, KeyClusters).clone();
        TextBlocks.WriteMask(buffer, QueryClusters, KeyClusters);

        Assert.True(Same(buffer.narrow(1, 0, QueryClusters).narrow(2, 0, KeyClusters), videoBefore));
        Assert.True(Same(buffer.narrow(1, QueryClusters, TextBlocks.Count), appended.BlockMask.narrow(1, QueryClusters, TextBlocks.Count)));
        Assert.True(Same(buffer.narrow(2, KeyClusters, TextBlocks.Count), appended.BlockMask.narrow(2, KeyClusters, TextBlocks.Count)));
    }

    [Fact]
    public void AppendedMaskFollowsTheTextRules()
    {
        var videoMask = RandomMask(3, QueryClusters, KeyClusters);
        var labels = zeros([Groups, 10], ScalarType.Int64);
        using var appended = TextBlocks.Append(labels, labels, videoMask, QueryClusters, KeyClusters, new TextTokens(6, 4));
        var mask = appended.BlockMask;
        int prompt = 0, padding = 1;
        Tensor TextColumn(int block) => mask.select(2, KeyClusters + block);
        Tensor TextRow(int block) => mask.select(1, QueryClusters + block);

        // Video clusters and the prompt attend the prompt; padding does not.
        Assert.True(TextColumn(prompt).narrow(1, 0, QueryClusters + 1).all().item<bool>());
        Assert.False(TextColumn(prompt).select(1, QueryClusters + padding).any().item<bool>());
        // The prompt attends every video cluster but not the padding.
        Assert.True(TextRow(prompt).narrow(1, 0, KeyClusters + 1).all().item<bool>());
        Assert.False(TextRow(prompt).select(1, KeyClusters + padding).any().item<bool>());
        // Padding attends only padding, and only padding attends it.
        Assert.Equal(Groups, TextRow(padding).sum().item<long>());
        Assert.Equal(Groups, TextColumn(padding).sum().item<long>());
        Assert.True(mask.select(1, QueryClusters + padding).select(1, KeyClusters + padding).all().item<bool>());
        Assert.True(Same(mask.narrow(1, 0, QueryClusters).narrow(2, 0, KeyClusters), videoMask));
    }

    [Theory]
    [InlineData(6, 4)]
    [InlineData(5, 5)]
    [InlineData(3, 0)]
    public void WriteLayoutCompletesAVideoLayoutIntoTheLayoutOfTheExtendedLabels(int textRows, int promptRows)
    {
        const int VideoRows = 40;
        var text = new TextTokens(textRows, promptRows);
        var videoLabels = TestTensors.LabelsWithEmptyClusters(4, Groups, VideoRows, QueryClusters, 2);
        using var video = ClusterPermutation.FromLabels(videoLabels, QueryClusters);
        using var appended = TextBlocks.Append(videoLabels, videoLabels, ones([Groups, QueryClusters, QueryClusters], ScalarType.Bool),
            QueryClusters, QueryClusters, text);
        using var expected = ClusterPermutation.FromLabels(appended.QueryLabels, QueryClusters + TextBlocks.Count);

        // The video part as the k-means kernels leave it, the rest stale.
        using var layout = new ClusterLayout(full([Groups, VideoRows + textRows], -1L, ScalarType.Int64),
            full([Groups, QueryClusters + TextBlocks.Count], -1L, ScalarType.Int64), full([Groups, QueryClusters + TextBlocks.Count + 1], -1L, ScalarType.Int64));
        layout.Permutation.narrow(1, 0, VideoRows).copy_(video.Permutation);
        layout.Sizes.narrow(1, 0, QueryClusters).copy_(video.Sizes);
        layout.Offsets.narrow(1, 0, QueryClusters + 1).copy_(video.Offsets);
        TextBlocks.WriteLayout(layout, text);

        Assert.True(Same(layout.Permutation, expected.Permutation));
        Assert.True(Same(layout.Sizes, expected.Sizes));
        Assert.True(Same(layout.Offsets, expected.Offsets));
    }

    [Fact]
    public void WriteMaskRejectsAMaskWithoutTheTextBlocks()
    {
        var error = Assert.Throws<ArgumentException>(() => TextBlocks.WriteMask(RandomMask(5, QueryClusters, KeyClusters), QueryClusters, KeyClusters));
        Assert.Contains($"[G, {QueryClusters + 2}, {KeyClusters + 2}]", error.Message);
    }

    [Fact]
    public void WriteLayoutRejectsTextThatLeavesNoVideoRows()
    {
        using var layout = new ClusterLayout(zeros([Groups, 6], ScalarType.Int64), zeros([Groups, 4], ScalarType.Int64), zeros([Groups, 5], ScalarType.Int64));
        var error = Assert.Throws<ArgumentException>(() => TextBlocks.WriteLayout(layout, new TextTokens(6, 2)));
        Assert.Contains("no video rows", error.Message);
    }
}
