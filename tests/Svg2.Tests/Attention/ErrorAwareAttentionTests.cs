using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Backends;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Statistics;
using Svg2.Evaluation.Workloads;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention;

/// <summary>The operator with centroid compensation and error-aware routing (svg2-ear) on the reference backend.</summary>
public class ErrorAwareAttentionTests
{
    static readonly Svg2Options Plain = new()
    {
        QueryClusters = 16, KeyClusters = 48, MinKeyClusterRatio = 0.1, InitIterations = 6, StepIterations = 1, ScaleClusterCounts = false,
    };

    static readonly Svg2Options Ear = MethodCatalog.OptionsFor(MethodCatalog.Svg2Ear, Plain);

    static (Tensor Q, Tensor K, Tensor V) Workload(int seed)
    {
        var sample = VideoLikeWorkload.Generate(VideoShape.Tiny, seed);
        return (sample.Query, sample.Key, sample.Value);
    }

    static double Density(Svg2Result result) => result.DensityPerHead().Average();

    [Fact]
    public void TargetDensityIsReachedThenTheChosenThresholdIsReusedUntilReset()
    {
        var attention = new Svg2Attention(Ear with { TargetDensity = 0.2 });
        using var state = new Svg2LayerState();
        var (q, k, v) = Workload(1);
        using (var first = attention.Forward(q, k, v, state))
        {
            // One block moves the density by about 0.1% here.
            Assert.InRange(Density(first), 0.2 * 0.98, 0.2 * 1.02);
            Assert.Equal(state.ChosenErrorThreshold, first.ErrorThreshold);
            Assert.True(double.IsNaN(first.TopP));
            Assert.Null(state.ChosenTopP);
        }
        double chosen = state.ChosenErrorThreshold!.Value;
        var (q2, k2, v2) = Workload(2);
        using (var later = attention.Forward(q2, k2, v2, state)) Assert.Equal(chosen, later.ErrorThreshold);
        state.Reset();
        Assert.Null(state.ChosenErrorThreshold);
    }

    [Fact]
    public void TheCheckCallOfAKeptThresholdIsNearTheTarget()
    {
        // Values shrinking call by call toward their cluster means (as the compensation error falls over denoising):
        // a kept threshold selects fewer blocks each call; the check call searches again when it drifted.
        var attention = new Svg2Attention(Ear with { TargetDensity = 0.2 });
        using var state = new Svg2LayerState();
        var (q, k, v) = Workload(4);
        double density = 0;
        for (int call = 0; call <= Svg2Attention.BudgetCheckInterval; call++)
        {
            var settled = v * Math.Pow(0.6, call) + v.mean([2], keepdim: true) * (1 - Math.Pow(0.6, call));
            using var result = attention.Forward(q * Math.Pow(1.2, call), k, settled, state);
            density = Density(result);
        }
        Assert.InRange(density, 0.2 * (1 - Svg2Attention.BudgetDriftTolerance) * 0.98, 0.2 * (1 + Svg2Attention.BudgetDriftTolerance) * 1.02);
    }

    [Fact]
    public void AtEqualDensityTheErrorIsBelowSvg2s()
    {
        var (q, k, v) = Workload(3);
        var (plainQuality, earQuality) = (new QualityProbe(), new QualityProbe());
        using var plain = new Svg2Attention(Plain with { TargetDensity = 0.15 }).Forward(q, k, v, new Svg2LayerState(), qualityProbe: plainQuality);
        using var ear = new Svg2Attention(Ear with { TargetDensity = 0.15 }).Forward(q, k, v, new Svg2LayerState(), qualityProbe: earQuality);
        Assert.InRange(Density(ear), Density(plain) * 0.97, Density(plain) * 1.03);
        double plainError = plainQuality.Quality!.RelativeError.Average(), earError = earQuality.Quality!.RelativeError.Average();
        Assert.True(earError < 0.7 * plainError, $"svg2-ear {earError:F4} against svg2 {plainError:F4}");
    }

    [Fact]
    public void TextRowsAreNeverCompensated()
    {
        var text = new TextTokens(12, 7);
        var (q, k, v) = (TestTensors.Normal(4, [1, 2, 140, 16]), TestTensors.Normal(5, [1, 2, 140, 16]), TestTensors.Normal(6, [1, 2, 140, 16]));
        using var result = new Svg2Attention(Ear with { QueryClusters = 8, KeyClusters = 24, ErrorThreshold = 10 }).Forward(q, k, v, new Svg2LayerState(), text);
        var (qg, kg, vg) = (AttentionInputs.Flatten(q), AttentionInputs.Flatten(k), AttentionInputs.Flatten(v));
        long videoRows = 140 - text.Count, realRows = videoRows + text.PromptLength;
        double scale = 1 / Math.Sqrt(16);
        var output = AttentionInputs.Flatten(result.Output);
        // Prompt rows attend every real token exactly; padding rows attend padding only.
        var prompt = TestTensors.MaskedAttention64(qg.narrow(1, videoRows, text.PromptLength), kg.narrow(1, 0, realRows), vg.narrow(1, 0, realRows),
            ones([2, text.PromptLength, realRows], ScalarType.Bool), scale);
        Assert.True(TestTensors.RelativeError(output.narrow(1, videoRows, text.PromptLength), prompt) < 1e-5);
        var padding = TestTensors.MaskedAttention64(qg.narrow(1, realRows, text.PaddingLength), kg.narrow(1, realRows, text.PaddingLength),
            vg.narrow(1, realRows, text.PaddingLength), ones([2, text.PaddingLength, text.PaddingLength], ScalarType.Bool), scale);
        Assert.True(TestTensors.RelativeError(output.narrow(1, realRows, text.PaddingLength), padding) < 1e-5);
        Assert.True(result.Sparsity.BlockMask.select(2, 24 + 1).narrow(1, 0, 8).logical_not().all().item<bool>(), "video rows never see padding");
    }

    [Fact]
    public void TheShareOfQueryClustersAtTheFloorIsReportedPerHead()
    {
        var (q, k, v) = Workload(7);
        using var floor = new Svg2Attention(Plain with { TopP = 1e-6, MinKeyClusterRatio = 0.25 }).Forward(q, k, v, new Svg2LayerState());
        Assert.All(floor.FloorSharePerHead(), share => Assert.Equal(1.0, share));
        using var open = new Svg2Attention(Ear with { ErrorThreshold = 0 }).Forward(q, k, v, new Svg2LayerState());
        Assert.All(open.FloorSharePerHead(), share => Assert.Equal(0.0, share));
        Assert.Equal(1.0, Density(open), 9);
    }

    [Fact]
    public void AttendRefusesMeansThatDoNotMatchTheOptions()
    {
        var (q, k, v) = Workload(8);
        var (qg, kg, vg) = (AttentionInputs.Flatten(q), AttentionInputs.Flatten(k), AttentionInputs.Flatten(v));
        var ear = new Svg2Attention(Ear);
        using var clustering = ear.Cluster(q, k, new Svg2LayerState());
        using var sparsity = ear.Select(clustering, Ear.SelectionRule);
        Assert.Contains("needs the cluster means", Assert.Throws<ArgumentException>(() => ear.Attend(qg, kg, vg, sparsity)).Message);
        using var means = ear.Means(qg, kg, vg, clustering);
        Assert.Contains("do not compensate", Assert.Throws<ArgumentException>(() => new Svg2Attention(Plain).Attend(qg, kg, vg, sparsity, means)).Message);
        Assert.Contains("cannot route for None compensation", Assert.Throws<ArgumentException>(() => new Svg2Attention(Plain with { Routing = KeyClusterRouting.ErrorAware })).Message);
        Assert.Contains("cannot route for PerQueryCluster compensation",
            Assert.Throws<ArgumentException>(() => new Svg2Attention(Ear with { Compensation = CompensationMode.PerQueryCluster })).Message);
    }
}
