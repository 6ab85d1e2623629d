using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Tests.Models;

public class WanRotaryEmbeddingTests
{
    [Theory]
    [InlineData(12, 2, 3, 4)]
    [InlineData(128, 3, 2, 5)]
    [InlineData(64, 1, 4, 4)]
    public void RotatesEveryPairByItsFrameRowOrColumnAngle(int headDim, int frames, int height, int width)
    {
        var grid = new LatentGrid(frames, height, width);
        using var rope = new WanRotaryEmbedding(grid, headDim, CPU);
        using var x = randn([1, grid.Tokens, 2, headDim], generator: new Generator(7));
        using var rotated = rope.Apply(x);
        var input = x.to(ScalarType.Float64).data<double>().ToArray();
        var output = rotated.to(ScalarType.Float64).data<double>().ToArray();

        int pairs = headDim / 2, spatial = pairs / 3, temporal = pairs - 2 * spatial;
        double worst = 0;
        for (int f = 0; f < frames; f++)
        for (int h = 0; h < height; h++)
        for (int w = 0; w < width; w++)
        for (int head = 0; head < 2; head++)
        for (int j = 0; j < pairs; j++)
        {
            // Segment, position and width in real dimensions of pair j (frames, then rows, then columns).
            var (position, local, segmentWidth) = j < temporal ? (f, j, 2 * temporal)
                : j < temporal + spatial ? (h, j - temporal, 2 * spatial)
                : (w, j - temporal - spatial, 2 * spatial);
            double angle = position * Math.Pow(10000, -2.0 * local / segmentWidth);
            long token = ((long)f * height + h) * width + w;
            long at = (token * 2 + head) * headDim + 2 * j;
            double re = input[at], im = input[at + 1];
            worst = Math.Max(worst, Math.Abs(output[at] - (re * Math.Cos(angle) - im * Math.Sin(angle))));
            worst = Math.Max(worst, Math.Abs(output[at + 1] - (re * Math.Sin(angle) + im * Math.Cos(angle))));
        }
        Assert.True(worst < 1e-5, $"largest deviation {worst}");
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void TheContiguousFormGivesThePerPairRotationBitForBit(ScalarType dtype)
    {
        var grid = new LatentGrid(3, 4, 5);
        using var rope = new WanRotaryEmbedding(grid, 64, CPU);
        using var x = (randn([2, grid.Tokens, 3, 64], generator: new Generator(11)) * 3).to(dtype);
        using var rotated = rope.Apply(x);
        // (a c - b s, a s + b c) on each pair's halves, the textbook form.
        var pairs = x.to(ScalarType.Float32).view(2, grid.Tokens, 3, 32, 2);
        var (a, b) = (pairs.select(-1, 0), pairs.select(-1, 1));
        var (c, s) = (rope.Cos.view(1, grid.Tokens, 1, 32), rope.Sin.view(1, grid.Tokens, 1, 32));
        using var expected = stack([a * c - b * s, a * s + b * c], -1).flatten(3);
        Assert.Equal(ScalarType.Float32, rotated.dtype);
        Assert.True(TestTensors.Same(rotated, expected), "the rotation must equal the per-pair form exactly");
        using var viaHalfTables = WanRotaryEmbedding.Rotate(x, rope.Cos, rope.Sin);
        Assert.True(TestTensors.Same(viaHalfTables, expected));
    }

    [Fact]
    public void SplitsA128WideHeadAs22And21And21Pairs()
    {
        // Wan's split for head width 128: 44, 42 and 42 real dimensions; the last column pair of the
        // first token at column 1 turns by 10000^(-40/42).
        var grid = new LatentGrid(1, 1, 2);
        using var rope = new WanRotaryEmbedding(grid, 128, CPU);
        var sin = rope.Sin.to(ScalarType.Float64).data<double>().ToArray();
        Assert.Equal(Math.Sin(Math.Pow(10000, -40.0 / 42)), sin[64 + 63], 6);
        Assert.Equal(Math.Sin(1.0), sin[64 + 43], 6);   // first column pair: frequency 1
        Assert.Equal(0.0, sin[64 + 42], 6);             // last row pair: row 0
    }

    [Fact]
    public void RejectsTensorsOfAnotherGrid()
    {
        using var rope = new WanRotaryEmbedding(new LatentGrid(1, 2, 2), 12, CPU);
        using var x = zeros(1, 5, 2, 12);
        Assert.Throws<ArgumentException>(() => rope.Apply(x));
    }
}
