using Svg2.Algorithm;
using Svg2.Backends;
using static TorchSharp.torch;

namespace Svg2.Tests.Conformance;

/// <summary>
/// One suite of stage checks written against <see cref="ISvg2Backend"/>; each backend instantiates
/// it with its device. Expected values come from float64 host computations, not from the backend.
/// </summary>
public abstract class BackendConformanceTests
{
    protected abstract ISvg2Backend Backend { get; }
    protected abstract Device Device { get; }

    /// <summary>Dtypes this backend is checked with, and the relative tolerance for each.</summary>
    public static TheoryData<ScalarType, double> AttentionTypes => new()
    {
        { ScalarType.Float32, 1e-4 },
        { ScalarType.BFloat16, 1.5e-2 },
        { ScalarType.Float16, 5e-3 },
    };

    [Fact]
    public void PermutationMatchesStableArgsortAndRoundTripsExactly()
    {
        const int groups = 3, tokens = 257, clusters = 11;
        var labels = TestTensors.LabelsWithEmptyClusters(1, groups, tokens, clusters, 0, 5, 10).to(Device);
        using var layout = Backend.Layout(labels, clusters);
        long[] flatLabels = TestTensors.Longs(labels), permutation = TestTensors.Longs(layout.Permutation);
        long[] sizes = TestTensors.Longs(layout.Sizes), offsets = TestTensors.Longs(layout.Offsets);
        for (int g = 0; g < groups; g++)
        {
            var expected = Enumerable.Range(0, tokens).OrderBy(i => flatLabels[g * tokens + i]).Select(i => (long)i).ToArray();
            Assert.Equal(expected, permutation.Skip(g * tokens).Take(tokens));
            for (int c = 0; c < clusters; c++)
            {
                Assert.Equal(flatLabels.Skip(g * tokens).Take(tokens).Count(l => l == c), sizes[g * clusters + c]);
                Assert.Equal(offsets[g * (clusters + 1) + c] + sizes[g * clusters + c], offsets[g * (clusters + 1) + c + 1]);
            }
            Assert.Equal(0, offsets[g * (clusters + 1)]);
            Assert.Equal(tokens, offsets[g * (clusters + 1) + clusters]);
            Assert.Equal(0, sizes[g * clusters + 5]);
        }
        var x = TestTensors.Normal(2, [groups, tokens, 16], ScalarType.BFloat16, Device);
        var roundTrip = ClusterPermutation.Invert(ClusterPermutation.Apply(x, layout.Permutation), layout.Permutation);
        Assert.True((roundTrip.to(ScalarType.Float32) == x.to(ScalarType.Float32)).all().item<bool>(), "permute then inverse-permute must be bitwise exact");
    }

    [Fact]
    public void KMeansLabelsAreNearestCentroidsAndCentroidsAreMemberMeans()
    {
        const int groups = 2, tokens = 300, clusters = 7, dim = 8;
        var points = TestTensors.Normal(3, [groups, tokens, dim], ScalarType.Float32, Device);
        var start = KMeans.RandomInitialCentroids(points, clusters, seed: 4);
        using var result = Backend.KMeans(points, start, iterations: 3);
        using var previous = Backend.KMeans(points, start, iterations: 2);

        var p = points.to(ScalarType.Float64).cpu();
        var c = previous.Centroids.to(ScalarType.Float64).cpu();
        var distances = (p.unsqueeze(2) - c.unsqueeze(1)).square().sum(-1);
        var expectedLabels = TestTensors.Longs(distances.argmin(-1));
        var labels = TestTensors.Longs(result.Labels);
        int mismatches = expectedLabels.Zip(labels).Count(pair => pair.First != pair.Second);
        Assert.True(mismatches <= 2, $"{mismatches} labels differ from the float64 nearest centroid (ties only allowed)");

        long[] sizes = TestTensors.Longs(result.Sizes);
        Assert.Equal(groups * tokens, sizes.Sum());
        var centroids = result.Centroids.to(ScalarType.Float64).cpu();
        var oldCentroids = previous.Centroids.to(ScalarType.Float64).cpu();
        for (int g = 0; g < groups; g++)
            for (int k = 0; k < clusters; k++)
            {
                var members = Enumerable.Range(0, tokens).Where(n => labels[g * tokens + n] == k).Select(n => (long)n).ToArray();
                Assert.Equal(members.Length, sizes[g * clusters + k]);
                var expected = members.Length == 0 ? oldCentroids[g, k] : p[g].index_select(0, tensor(members)).mean([0]);
                Assert.True(centroids[g, k].allclose(expected, rtol: 1e-5, atol: 1e-5), $"centroid {k} of group {g} is not the mean of its members");
            }
    }

    [Fact]
    public void KMeansEmptyClusterKeepsItsCentroid()
    {
        const int tokens = 64, dim = 4;
        var points = TestTensors.Normal(5, [1, tokens, dim], ScalarType.Float32, Device);
        var far = full([1, 1, dim], 1000f, ScalarType.Float32, Device);
        var start = cat([points.narrow(1, 0, 3), far], 1);
        using var result = Backend.KMeans(points, start, iterations: 4);
        Assert.Equal(0, TestTensors.Longs(result.Sizes)[3]);
        Assert.Equal(TestTensors.Floats(far), TestTensors.Floats(result.Centroids.narrow(1, 3, 1)));
    }

    [Fact]
    public void SelectionMatchesTheRuleOnRandomRows()
    {
        const int groups = 2, queryClusters = 5, keyClusters = 40, dim = 16;
        var queryCentroids = TestTensors.Normal(6, [groups, queryClusters, dim], ScalarType.Float32, Device) * 3;
        var keyCentroids = TestTensors.Normal(7, [groups, keyClusters, dim], ScalarType.Float32, Device) * 3;
        using var generator = TestTensors.Seeded(8);
        var keySizes = randint(0, 20, [groups, keyClusters], ScalarType.Int64, generator: generator).to(Device);
        var rule = new SelectionRule(0.8, 0.1);
        var mask = TestTensors.Bools(Backend.SelectKeyClusters(queryCentroids, keyCentroids, keySizes, rule));

        var qc = queryCentroids.to(ScalarType.Float64).cpu();
        var kc = keyCentroids.to(ScalarType.Float64).cpu();
        long[] sizes = TestTensors.Longs(keySizes);
        for (int g = 0; g < groups; g++)
            for (int i = 0; i < queryClusters; i++)
            {
                double[] scores = TestTensors.Floats(kc[g].matmul(qc[g, i]) / Math.Sqrt(dim)).Select(s => (double)s).ToArray();
                double max = scores.Max();
                double[] weights = scores.Select((s, j) => sizes[g * keyClusters + j] * Math.Exp(s - max)).ToArray();
                double total = weights.Sum();
                var order = Enumerable.Range(0, keyClusters).OrderByDescending(j => weights[j]).ToArray();
                var expected = new bool[keyClusters];
                double before = 0;
                for (int m = 0; m < keyClusters; m++)
                {
                    expected[order[m]] = m == 0 || before <= rule.TopP || m < 4;
                    before += weights[order[m]] / total;
                }
                var actual = mask.Skip((g * queryClusters + i) * keyClusters).Take(keyClusters).ToArray();
                Assert.Equal(expected, actual);
            }
    }

    [Theory]
    [MemberData(nameof(AttentionTypes))]
    public void BlockAttentionEqualsDenseMaskedAttentionOnRandomPartitions(ScalarType dtype, double tolerance)
    {
        const int groups = 3, tokens = 200, queryClusters = 9, keyClusters = 13, dim = 32;
        var q = TestTensors.Normal(10, [groups, tokens, dim], dtype, Device);
        var k = TestTensors.Normal(11, [groups, tokens, dim], dtype, Device);
        var v = TestTensors.Normal(12, [groups, tokens, dim], dtype, Device);
        var queryLabels = TestTensors.LabelsWithEmptyClusters(13, groups, tokens, queryClusters, 2).to(Device);
        var keyLabels = TestTensors.LabelsWithEmptyClusters(14, groups, tokens, keyClusters, 4, 7).to(Device);
        using var generator = TestTensors.Seeded(15);
        var blockMask = (rand([groups, queryClusters, keyClusters], generator: generator) < 0.4).to(Device);
        blockMask[0, 1] = zeros(keyClusters, ScalarType.Bool, Device); // a query cluster with no selected keys
        using var queryLayout = Backend.Layout(queryLabels, queryClusters);
        using var keyLayout = Backend.Layout(keyLabels, keyClusters);
        double scale = 1 / Math.Sqrt(dim);

        var output = Backend.BlockSparseAttention(q, k, v, queryLayout, keyLayout, blockMask, scale);

        var allowed = new Svg2.Algorithm.BlockSparsity(queryLabels, keyLabels, blockMask).Allowed(arange(tokens, ScalarType.Int64, Device), empty(0));
        var expected = TestTensors.MaskedAttention64(q.cpu(), k.cpu(), v.cpu(), allowed.cpu(), scale);
        Assert.Equal(dtype, output.dtype);
        Assert.Equal(new long[] { groups, tokens, dim }, output.shape);
        Assert.False(output.isnan().any().item<bool>(), "every output element must be written");
        double error = TestTensors.RelativeError(output, expected);
        Assert.True(error < tolerance, $"relative error {error:E2} exceeds {tolerance:E1} for {dtype}");
        var emptyRows = TestTensors.Longs(queryLabels[0]).Select((l, n) => (l, n)).Where(p => p.l == 1).Select(p => (long)p.n).ToArray();
        Assert.NotEmpty(emptyRows);
        Assert.Equal(0.0, output[0].index_select(0, tensor(emptyRows, device: Device)).abs().max().to(ScalarType.Float64).item<double>());
    }

    [Theory]
    [MemberData(nameof(AttentionTypes))]
    public void AllTrueSelectionEqualsDenseAttention(ScalarType dtype, double tolerance)
    {
        const int groups = 2, tokens = 150, dim = 64;
        var q = TestTensors.Normal(20, [groups, tokens, dim], dtype, Device);
        var k = TestTensors.Normal(21, [groups, tokens, dim], dtype, Device);
        var v = TestTensors.Normal(22, [groups, tokens, dim], dtype, Device);
        using var queryLayout = Backend.Layout(TestTensors.LabelsWithEmptyClusters(23, groups, tokens, 6, 3).to(Device), 6);
        using var keyLayout = Backend.Layout(TestTensors.LabelsWithEmptyClusters(24, groups, tokens, 10).to(Device), 10);
        var output = Backend.BlockSparseAttention(q, k, v, queryLayout, keyLayout, ones([groups, 6, 10], ScalarType.Bool, Device), 1 / Math.Sqrt(dim));
        var dense = nn.functional.scaled_dot_product_attention(q.to(ScalarType.Float32).unsqueeze(0), k.to(ScalarType.Float32).unsqueeze(0), v.to(ScalarType.Float32).unsqueeze(0)).squeeze(0);
        double error = TestTensors.RelativeError(output, dense);
        Assert.True(error < tolerance, $"relative error {error:E2} against dense attention exceeds {tolerance:E1} for {dtype}");
    }
}

/// <summary>The conformance suite on the portable TorchSharp reference, on the CPU.</summary>
public sealed class ReferenceBackendConformanceTests : BackendConformanceTests
{
    protected override ISvg2Backend Backend => ReferenceBackend.Instance;
    protected override Device Device => CPU;
}
