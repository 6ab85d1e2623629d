using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Tests.Algorithm;

/// <summary>The normalisation every implementation of the routing probe shares (<see cref="CompensationErrorProbe.Scores"/>).</summary>
public class ProbeScoreNormalisationTests
{
    [Fact]
    public void ScoresAreTheShareOfSquaredErrorOverTheShareOfTheScoreMatrix()
    {
        const int Groups = 2, QueryClusters = 5, KeyClusters = 7;
        const long Tokens = 300;
        var squaredError = (TestTensors.Normal(1, [Groups, QueryClusters, KeyClusters]).abs() * 1e-3).to(ScalarType.Float64);
        squaredError[0][1][2].fill_(1e-200);
        var squaredOutput = TestTensors.Normal(2, [Groups, QueryClusters]).abs() + 0.1;
        var querySizes = tensor(new long[] { 10, 0, 30, 40, 50, 60, 70, 80, 90, 0 }, [Groups, QueryClusters]);
        var keySizes = tensor(new long[] { 1, 2, 0, 4, 5, 6, 7, 8, 9, 10, 0, 12, 13, 14 }, [Groups, KeyClusters]);

        var scores = CompensationErrorProbe.Scores(squaredError, squaredOutput, querySizes, keySizes, Tokens);

        Assert.Equal(ScalarType.Float64, scores.dtype);
        var error = squaredError.data<double>().ToArray();
        var output = squaredOutput.data<float>().ToArray();
        var (nq, nk) = (querySizes.data<long>().ToArray(), keySizes.data<long>().ToArray());
        var actual = scores.data<double>().ToArray();
        for (int g = 0; g < Groups; g++)
        {
            double energy = Enumerable.Range(0, QueryClusters).Sum(a => nq[g * QueryClusters + a] * (double)output[g * QueryClusters + a]);
            for (int a = 0; a < QueryClusters; a++)
                for (int b = 0; b < KeyClusters; b++)
                {
                    int i = (g * QueryClusters + a) * KeyClusters + b;
                    long na = nq[g * QueryClusters + a], nb = nk[g * KeyClusters + b];
                    double expected = na == 0 || nb == 0 ? 0 : (double)Tokens * Tokens * error[i] / (nb * energy);
                    if (expected == 0) Assert.Equal(0, actual[i]);
                    else Assert.True(Math.Abs(actual[i] / expected - 1) < 1e-12, $"block ({g}, {a}, {b}): {actual[i]} vs {expected}");
                }
        }
        Assert.True(scores[0][0][2].item<double>() == 0, "key cluster 2 of head 0 is empty");
        Assert.True(scores[0][1].abs().sum().item<double>() == 0, "query cluster 1 of head 0 is empty");
        Assert.True(scores[0][2][3].item<double>() > 0);
    }

    [Fact]
    public void TinyErrorsKeepTheirScaleInFloat64()
    {
        var squaredError = full([1, 1, 1], 1e-300, ScalarType.Float64);
        var scores = CompensationErrorProbe.Scores(squaredError, ones(1, 1), ones([1, 1], ScalarType.Int64), ones([1, 1], ScalarType.Int64), 1);
        Assert.Equal(1e-300, scores.item<double>(), 1e-310);
    }

    [Fact]
    public void MismatchedShapesAreRefusedByName()
    {
        var error = Assert.Throws<ArgumentException>(() => CompensationErrorProbe.Scores(zeros(2, 3, 4, dtype: ScalarType.Float64), zeros(2, 4),
            ones([2, 3], ScalarType.Int64), ones([2, 4], ScalarType.Int64), 10));
        Assert.Contains("squared outputs", error.Message);
    }
}
