using Svg2.Evaluation.Workloads;
using Svg2.Positional;
using static TorchSharp.torch;

namespace Svg2.Tests.Workloads;

public class Rope3DTests
{
    [Theory]
    [InlineData(128, 22, 21, 21)]
    [InlineData(64, 12, 10, 10)]
    [InlineData(32, 6, 5, 5)]
    public void SplitFollowsWan(int headDim, int time, int height, int width)
    {
        var rope = new Rope3D(headDim);
        Assert.Equal((time, height, width), (rope.TemporalPairs, rope.HeightPairs, rope.WidthPairs));
        // Wan sizes the parts in dimensions: d - 4*(d/6) for time and 2*(d/6) for each spatial axis.
        Assert.Equal(headDim - 4 * (headDim / 6), 2 * rope.TemporalPairs);
        Assert.Equal(2 * (headDim / 6), 2 * rope.HeightPairs);
    }

    [Theory]
    [InlineData(32, 3, 4, 5, 0)]
    [InlineData(128, 2, 3, 7, 9)]
    [InlineData(64, 5, 2, 3, 4)]
    public void ApplyMatchesTheDirectFormula(int headDim, int frames, int height, int width, int textRows)
    {
        int video = frames * height * width, sequence = video + textRows;
        using var x = TestTensors.Normal(11, [2, 3, sequence, headDim], ScalarType.Float64);
        using var rotated = new Rope3D(headDim).Apply(x, frames, height, width);

        var input = x.data<double>().ToArray();
        var actual = rotated.data<double>().ToArray();
        int timeDims = headDim - 4 * (headDim / 6), spaceDims = 2 * (headDim / 6);
        double worst = 0;
        for (int row = 0; row < 2 * 3 * sequence; row++)
        {
            int token = row % sequence;
            for (int pair = 0; pair < headDim / 2; pair++)
            {
                int i = row * headDim + 2 * pair;
                double expectedReal = input[i], expectedImaginary = input[i + 1];
                if (token < video)
                {
                    // Position along the pair's axis times theta^(-2j / dims of that axis).
                    int t = token / (height * width), h = token / width % height, w = token % width;
                    double angle = pair < timeDims / 2
                        ? t * Math.Pow(10000, -2.0 * pair / timeDims)
                        : pair < timeDims / 2 + spaceDims / 2
                            ? h * Math.Pow(10000, -2.0 * (pair - timeDims / 2) / spaceDims)
                            : w * Math.Pow(10000, -2.0 * (pair - timeDims / 2 - spaceDims / 2) / spaceDims);
                    expectedReal = input[i] * Math.Cos(angle) - input[i + 1] * Math.Sin(angle);
                    expectedImaginary = input[i] * Math.Sin(angle) + input[i + 1] * Math.Cos(angle);
                }

                worst = Math.Max(worst, Math.Max(Math.Abs(actual[i] - expectedReal), Math.Abs(actual[i + 1] - expectedImaginary)));
            }
        }

        Assert.True(worst < 1e-12, $"Largest deviation from the direct formula: {worst}.");
    }

    [Fact]
    public void ScoresDependOnlyOnTheGridOffset()
    {
        // The point of RoPE: <R(a) q, R(b) k> is a function of b - a.
        var rope = new Rope3D(64);
        using var q = TestTensors.Normal(3, [1, 1, 1, 64], ScalarType.Float64).expand(1, 1, 3 * 4 * 5, 64).contiguous();
        using var k = TestTensors.Normal(4, [1, 1, 1, 64], ScalarType.Float64).expand(1, 1, 3 * 4 * 5, 64).contiguous();
        using var rq = rope.Apply(q, 3, 4, 5);
        using var rk = rope.Apply(k, 3, 4, 5);
        static int Token(int t, int h, int w) => (t * 4 + h) * 5 + w;
        double Score(int a, int b) => (rq[0, 0, a] * rk[0, 0, b]).sum().item<double>();
        Assert.Equal(Score(Token(0, 0, 0), Token(1, 2, 3)), Score(Token(1, 1, 1), Token(2, 3, 4)), 10);
        Assert.NotEqual(Score(Token(0, 0, 0), Token(1, 2, 3)), Score(Token(0, 0, 0), Token(1, 2, 4)), 3);
    }

    [Fact]
    public void KeepsDtypeAndNorms()
    {
        using var x = TestTensors.Normal(5, [1, 2, 2 * 3 * 4, 32]);
        using var rotated = new Rope3D(32).Apply(x, 2, 3, 4);
        Assert.Equal(ScalarType.Float32, rotated.dtype);
        Assert.True(TestTensors.RelativeError(rotated.norm(-1), x.norm(-1)) < 1e-6);
    }

    [Fact]
    public void BadInputIsRejected()
    {
        var rope = new Rope3D(32);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rope3D(31));
        Assert.Contains("[B, heads, S, D]", Assert.Throws<ArgumentException>(() => rope.Apply(zeros(4, 24, 32), 2, 3, 4)).Message);
        Assert.Contains("head dimension", Assert.Throws<ArgumentException>(() => rope.Apply(zeros(1, 1, 24, 64), 2, 3, 4)).Message);
        Assert.Contains("shorter", Assert.Throws<ArgumentException>(() => rope.Apply(zeros(1, 1, 23, 32), 2, 3, 4)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => rope.Apply(zeros(1, 1, 24, 32), 0, 3, 4));
    }
}
