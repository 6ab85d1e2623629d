using Svg2.Attention;
using Svg2.Configuration;
using Svg2.Evaluation.Statistics;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention;

public class Svg2AttentionTests
{
    static readonly Svg2Options Small = new() { QueryClusters = 6, KeyClusters = 12, TopP = 0.7, MinKeyClusterRatio = 0.1, InitIterations = 10, StepIterations = 2, ScaleClusterCounts = false };

    static (Tensor Q, Tensor K, Tensor V) Inputs(int seed, long batch, long heads, long tokens, long dim, ScalarType dtype = ScalarType.Float32) =>
        (TestTensors.Normal(seed, [batch, heads, tokens, dim], dtype) * 2, TestTensors.Normal(seed + 1, [batch, heads, tokens, dim], dtype) * 2,
         TestTensors.Normal(seed + 2, [batch, heads, tokens, dim], dtype));

    static Tensor Flat(Tensor x) => AttentionInputs.Flatten(x);

    [Theory]
    [InlineData(1, ScalarType.Float32, 1e-4)]
    [InlineData(2, ScalarType.BFloat16, 1.5e-2)]
    [InlineData(3, ScalarType.Float16, 5e-3)]
    public void OutputIsExactAttentionOverTheSelectedBlocks(long batch, ScalarType dtype, double tolerance)
    {
        var (q, k, v) = Inputs(40, batch, 3, 160, 16, dtype);
        using var state = new Svg2LayerState();
        using var result = new Svg2Attention(Small).Forward(q, k, v, state);

        Assert.Equal(q.shape, result.Output.shape);
        Assert.Equal(new[] { batch, 3L }, result.Density.shape);
        var allowed = result.Sparsity.Allowed(arange(160, ScalarType.Int64), empty(0));
        var expected = TestTensors.MaskedAttention64(Flat(q), Flat(k), Flat(v), allowed, 1 / Math.Sqrt(16));
        double error = TestTensors.RelativeError(Flat(result.Output), expected);
        Assert.True(error < tolerance, $"relative error {error:E2} exceeds {tolerance:E1}");
        Assert.False(result.Output.isnan().any().item<bool>());

        var expectedDensity = allowed.to(ScalarType.Float64).mean([1, 2]);
        Assert.True(result.Density.reshape(-1).allclose(expectedDensity, rtol: 1e-9, atol: 1e-12));
        Assert.All(result.DensityPerHead(), d => Assert.InRange(d, 1e-3, 1.0));
    }

    [Fact]
    public void TopPOfOneEqualsDenseAttention()
    {
        var (q, k, v) = Inputs(50, 1, 2, 128, 32, ScalarType.BFloat16);
        using var state = new Svg2LayerState();
        var probe = new QualityProbe();
        using var result = new Svg2Attention(Small with { TopP = 1.0 }).Forward(q, k, v, state, qualityProbe: probe);
        var dense = nn.functional.scaled_dot_product_attention(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32));
        Assert.True(TestTensors.RelativeError(result.Output, dense) < 1.5e-2);
        Assert.All(result.DensityPerHead(), d => Assert.Equal(1.0, d, 12));
        Assert.All(probe.Quality!.Recall, r => Assert.Equal(1.0, r, 5));
        Assert.All(probe.Quality.RelativeError, e => Assert.InRange(e, 0, 1.5e-2));
    }

    [Fact]
    public void QualityStatisticsAgreeWithABruteForceComputation()
    {
        var (q, k, v) = Inputs(60, 1, 2, 140, 16);
        using var state = new Svg2LayerState();
        var probe = new QualityProbe();
        using var result = new Svg2Attention(Small with { TopP = 0.5, MinKeyClusterRatio = 0 }).Forward(q, k, v, state, qualityProbe: probe);
        var probabilities = (Flat(q).to(ScalarType.Float64).bmm(Flat(k).to(ScalarType.Float64).transpose(1, 2)) / 4.0).softmax(-1);
        var allowed = result.Sparsity.Allowed(arange(140, ScalarType.Int64), empty(0));
        var recall = TestTensors.Floats((probabilities * allowed).sum(-1).mean([1]));
        var dense = probabilities.bmm(Flat(v).to(ScalarType.Float64));
        for (int g = 0; g < 2; g++)
        {
            Assert.Equal(recall[g], probe.Quality!.Recall[g], 4);
            Assert.Equal(TestTensors.RelativeError(Flat(result.Output)[g], dense[g]), probe.Quality.RelativeError[g], 4);
            Assert.True(probe.Quality.Recall[g] < 1.0, "a 0.5 cut must drop some attention mass");
        }
        var sampledProbe = new QualityProbe(sampleRows: 40);
        using var sampled = new Svg2Attention(Small with { TopP = 0.5, MinKeyClusterRatio = 0 }).Forward(q, k, v, new Svg2LayerState(), qualityProbe: sampledProbe);
        Assert.Equal(40, sampledProbe.Quality!.RowsMeasured);
    }

    [Fact]
    public void LaterCallsWarmStartFromTheCacheUntilReset()
    {
        var (q, k, v) = Inputs(70, 1, 2, 128, 16);
        var attention = new Svg2Attention(Small);
        using var state = new Svg2LayerState();
        Assert.Equal(Small.InitIterations, attention.Forward(q, k, v, state).KMeansIterations);
        Assert.Equal(1, state.Calls);
        Assert.Equal(Small.StepIterations, attention.Forward(q, k, v, state).KMeansIterations);
        Assert.Equal(new long[] { 2, 6, 16 }, state.QueryCentroids!.shape);
        state.Reset();
        Assert.Null(state.KeyCentroids);
        Assert.Equal(Small.InitIterations, attention.Forward(q, k, v, state).KMeansIterations);
    }

    [Fact]
    public void WarmStartNeedsFewerIterationsThanColdStart()
    {
        // Two nearby "denoising steps": the second step's k-means from the first step's centroids reaches
        // in 2 iterations an objective that a random start needs more iterations to reach.
        var points = TestTensors.Normal(80, [2, 600, 8]) + TestTensors.Normal(81, [2, 1, 8]);
        var clustered = points + 4 * TestTensors.Normal(82, [2, 20, 8]).repeat_interleave(30, 1);
        var nextStep = clustered + 0.05 * TestTensors.Normal(83, clustered.shape);
        var first = Svg2.Algorithm.KMeans.Run(clustered, Svg2.Algorithm.KMeans.RandomInitialCentroids(clustered, 20, 1), 50);
        double warm = Inertia(nextStep, Svg2.Algorithm.KMeans.Run(nextStep, first.Centroids, 2));
        int coldIterations = 0;
        var start = Svg2.Algorithm.KMeans.RandomInitialCentroids(nextStep, 20, 2);
        for (int iterations = 1; iterations <= 50; iterations++)
        {
            coldIterations = iterations;
            if (Inertia(nextStep, Svg2.Algorithm.KMeans.Run(nextStep, start, iterations)) <= warm * 1.001) break;
        }
        Assert.True(coldIterations > 2, $"a cold start reached the warm objective in {coldIterations} iterations");
    }

    static double Inertia(Tensor points, Svg2.Algorithm.KMeansResult result) =>
        (points - result.Centroids.gather(1, result.Labels.unsqueeze(-1).expand(-1, -1, points.shape[2]))).square().sum().item<float>();

    [Fact]
    public void TextBlocksFollowTheHunyuanRules()
    {
        const int video = 120, prompt = 10, padding = 6, dim = 16;
        var (q, k, v) = Inputs(90, 1, 2, video + prompt + padding, dim);
        using var state = new Svg2LayerState();
        var text = new TextTokens(prompt + padding, prompt);
        using var result = new Svg2Attention(Small).Forward(q, k, v, state, text);
        var (qf, kf, vf) = (Flat(q), Flat(k), Flat(v));
        double scale = 1 / Math.Sqrt(dim);

        var promptRows = qf.narrow(1, video, prompt);
        var real = video + prompt;
        var promptExpected = TestTensors.MaskedAttention64(promptRows, kf.narrow(1, 0, real), vf.narrow(1, 0, real), ones([2, prompt, real], ScalarType.Bool), scale);
        Assert.True(TestTensors.RelativeError(Flat(result.Output).narrow(1, video, prompt), promptExpected) < 1e-5, "prompt rows attend every real token");

        var paddingExpected = TestTensors.MaskedAttention64(qf.narrow(1, real, padding), kf.narrow(1, real, padding), vf.narrow(1, real, padding), ones([2, padding, padding], ScalarType.Bool), scale);
        Assert.True(TestTensors.RelativeError(Flat(result.Output).narrow(1, real, padding), paddingExpected) < 1e-5, "padding rows attend padding only");

        var allowed = result.Sparsity.Allowed(arange(real, ScalarType.Int64), empty(0));
        Assert.False(allowed.narrow(2, real, padding).any().item<bool>(), "video and prompt rows never see padding keys");
        Assert.True(allowed.narrow(1, 0, video).narrow(2, video, prompt).all().item<bool>(), "video rows always see the prompt");
    }

    [Fact]
    public void ModelStateSharesOrSeparatesGuidancePasses()
    {
        using var shared = new Svg2ModelState(4);
        Assert.Same(shared.For(2, 0), shared.For(2, 1));
        using var perPass = new Svg2ModelState(4, CacheSharing.PerPass);
        Assert.NotSame(perPass.For(2, 0), perPass.For(2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => shared.For(4));
    }

    [Fact]
    public void RefineCentroidsFillsTheCacheWithoutAttention()
    {
        var (q, k, _) = Inputs(95, 1, 2, 128, 16);
        using var state = new Svg2LayerState();
        new Svg2Attention(Small).RefineCentroids(q, k, state);
        Assert.Equal(new long[] { 2, 12, 16 }, state.KeyCentroids!.shape);
        Assert.Equal(1, state.Calls);
    }

    public static TheoryData<string, Func<(Tensor, Tensor, Tensor)>, string> BadInputs => new()
    {
        { "rank", () => (zeros(2, 8, 4), zeros(2, 8, 4), zeros(2, 8, 4)), "[B, H, S, D]" },
        { "dtype", () => (zeros([1, 1, 8, 4], ScalarType.Int32), zeros([1, 1, 8, 4], ScalarType.Int32), zeros([1, 1, 8, 4], ScalarType.Int32)), "dtype" },
        { "shape", () => (zeros(1, 2, 8, 4), zeros(1, 2, 9, 4), zeros(1, 2, 9, 4)), "one shape" },
        { "mixed", () => (zeros(1, 2, 8, 4), zeros([1, 2, 8, 4], ScalarType.Float16), zeros(1, 2, 8, 4)), "one dtype" },
        { "empty", () => (zeros(1, 0, 8, 4), zeros(1, 0, 8, 4), zeros(1, 0, 8, 4)), "empty" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInputsGetClearErrors(string _, Func<(Tensor, Tensor, Tensor)> make, string named)
    {
        var (q, k, v) = make();
        var error = Assert.Throws<ArgumentException>(() => new Svg2Attention(Small).Forward(q, k, v, new Svg2LayerState()));
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void TextLongerThanTheSequenceIsAnError()
    {
        var (q, k, v) = Inputs(99, 1, 1, 32, 8);
        var error = Assert.Throws<ArgumentException>(() => new Svg2Attention(Small).Forward(q, k, v, new Svg2LayerState(), new TextTokens(40, 10)));
        Assert.Contains("text rows", error.Message);
    }
}
