using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Tests.Algorithm;

public class TopPCutTests
{
    static bool[] Cut(float[] row, double topP, double minRatio = 0, SelectionPrecision precision = SelectionPrecision.Float32) =>
        TestTensors.Bools(CriticalClusterSelection.CutTopP(tensor(row).unsqueeze(0), new SelectionRule(topP, minRatio, precision)));

    [Fact]
    public void CrossingClusterIsKept() =>
        // Mass before each rank: 0, 0.5, 0.8, 0.95 -> the third cluster crosses 0.9 and is kept.
        Assert.Equal(new[] { true, true, true, false }, Cut([0.5f, 0.3f, 0.15f, 0.05f], 0.9));

    [Fact]
    public void OrderFollowsProbabilityNotPosition() =>
        Assert.Equal(new[] { false, true, true, true }, Cut([0.05f, 0.15f, 0.3f, 0.5f], 0.9));

    [Fact]
    public void FirstClusterIsAlwaysKept() =>
        Assert.Equal(new[] { false, true, false }, Cut([0.2f, 0.7f, 0.1f], 1e-6));

    [Fact]
    public void MinimumRatioKeepsAtLeastFloorRatioTimesCount()
    {
        // floor(0.3 x 10) = 3 clusters kept although the first holds 95% of the mass.
        float[] row = [0.95f, 0.01f, 0.005f, 0.004f, 0.003f, 0.003f, 0.002f, 0.001f, 0.001f, 0.021f];
        var kept = Cut(row, 0.5, minRatio: 0.3);
        Assert.Equal(3, kept.Count(k => k));
        Assert.True(kept[0] && kept[9] && kept[1]);
    }

    [Fact]
    public void TopPOfOneKeepsEveryPositiveCluster() =>
        Assert.All(Cut([0.25f, 0.25f, 0.25f, 0.25f], 1.0), Assert.True);

    [Fact]
    public void ZeroSizeClustersSortLast()
    {
        // The empty key cluster has the best centroid score but weight 0.
        var queryCentroids = tensor(new float[] { 1, 0 }).reshape(1, 1, 2);
        var keyCentroids = tensor(new float[] { 10, 0, 1, 0, 0.5f, 0 }).reshape(1, 3, 2);
        var sizes = tensor(new long[] { 0, 5, 5 }).reshape(1, 3);
        var mask = TestTensors.Bools(CriticalClusterSelection.Select(queryCentroids, keyCentroids, sizes, new SelectionRule(0.3, 0)));
        Assert.Equal(new[] { false, true, false }, mask);
    }

    [Fact]
    public void BFloat16ModeFollowsTheReferenceRounding()
    {
        // A scalar transcription of the reference: P rounded to bf16, prefix sums accumulated in
        // float32 and each rounded to bf16 (libtorch's bf16 cumsum), compared with bf16(top_p) =
        // 0.8984375. Checked on random rows against the tensor code.
        var random = new Random(31);
        for (int trial = 0; trial < 200; trial++)
        {
            int count = random.Next(2, 60);
            double[] weights = Enumerable.Range(0, count).Select(_ => Math.Pow(random.NextDouble(), 3)).ToArray();
            float[] row = weights.Select(w => (float)(w / weights.Sum())).ToArray();
            var expected = new bool[count];
            float[] rounded = row.Select(p => (float)CriticalClusterSelection.RoundToBFloat16(p)).ToArray();
            var order = Enumerable.Range(0, count).OrderByDescending(j => rounded[j]).ThenBy(j => j).ToArray();
            float sum = 0;
            for (int m = 0; m < count; m++)
            {
                expected[order[m]] = m == 0 || CriticalClusterSelection.RoundToBFloat16(sum) <= 0.8984375;
                sum += rounded[order[m]];
            }
            var actual = TestTensors.Bools(CriticalClusterSelection.CutTopP(tensor(rounded).unsqueeze(0), new SelectionRule(0.9, 0, SelectionPrecision.BFloat16Emulated)));
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void BFloat16PrefixSumsDoNotStallOnFlatRows()
    {
        // 1000 equal probabilities: libtorch's bf16 cumsum reaches 0.9 after about 900 ranks; a running
        // sum rounded to bf16 after every addition would stall near 0.5 and keep every cluster.
        var row = Enumerable.Repeat(0.001f, 1000).ToArray();
        int kept = Cut(row, 0.9, precision: SelectionPrecision.BFloat16Emulated).Count(k => k);
        Assert.InRange(kept, 880, 920);
        Assert.Equal(1000f, tensor(row).to(ScalarType.BFloat16).cumsum(0).to(ScalarType.Float32)[999].item<float>() * 1000f, 0);
    }

    [Theory]
    [InlineData(0.9, 0.8984375)]
    [InlineData(1.0, 1.0)]
    [InlineData(0.5, 0.5)]
    [InlineData(0.95, 0.94921875)]
    public void BFloat16RoundingMatchesTorch(double value, double expected)
    {
        Assert.Equal(expected, CriticalClusterSelection.RoundToBFloat16(value));
        Assert.Equal(expected, tensor((float)value).to(ScalarType.BFloat16).to(ScalarType.Float32).item<float>());
    }
}
