using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Backends;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Workloads;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention;

/// <summary>
/// The operator's fused call with error-aware routing (k-means, probe, error-aware selection, compensated
/// attention through <see cref="IFusedSvg2Pipeline"/>) against its staged call, on a pipeline that runs the
/// reference stages: the call sequence and the threshold search must give the staged result.
/// </summary>
public class FusedErrorRoutingTests
{
    static readonly Svg2Options Ear = MethodCatalog.OptionsFor(MethodCatalog.Svg2Ear, new Svg2Options
    {
        QueryClusters = 12, KeyClusters = 32, MinKeyClusterRatio = 0.1, InitIterations = 6, StepIterations = 2, ScaleClusterCounts = false,
    });

    [Theory]
    [InlineData(null, null, ProbeNormalisation.Exact)]
    [InlineData(0.2, null, ProbeNormalisation.Exact)]
    [InlineData(null, 2, ProbeNormalisation.Exact)]
    [InlineData(0.2, 3, ProbeNormalisation.Exact)]
    [InlineData(0.2, null, ProbeNormalisation.Centroid)]
    [InlineData(null, 3, ProbeNormalisation.Centroid)]
    public void TheFusedCallGivesTheStagedResult(double? targetDensity, int? probeKeys, ProbeNormalisation normalisation)
    {
        // With probe keys, the fused pipeline's probe walks the same key sample as the staged one; both take the same normaliser.
        var options = Ear with { TargetDensity = targetDensity, ProbeKeysPerCluster = probeKeys, ProbeNormalisation = normalisation };
        var fusedBackend = new ReferenceFusedBackend();
        var staged = new Svg2Attention(options, ReferenceBackend.Instance);
        var fused = new Svg2Attention(options, fusedBackend);
        using var stagedState = new Svg2LayerState();
        using var fusedState = new Svg2LayerState();
        foreach (int seed in new[] { 3, 4 })
        {
            // The second call warm-starts k-means and, with a target, keeps the first call's threshold.
            var sample = VideoLikeWorkload.Generate(VideoShape.Tiny, seed);
            using var expected = staged.Forward(sample.Query, sample.Key, sample.Value, stagedState);
            using var actual = fused.Forward(sample.Query, sample.Key, sample.Value, fusedState);
            Assert.True(TestTensors.Same(expected.Sparsity.BlockMask, actual.Sparsity.BlockMask), $"seed {seed}: the fused call selected other blocks");
            Assert.True(TestTensors.Same(expected.Sparsity.FloorShare!, actual.Sparsity.FloorShare!), $"seed {seed}: the fused call reported another floor share");
            Assert.True(TestTensors.Same(expected.Density, actual.Density), $"seed {seed}: the fused call reported another density");
            double error = TestTensors.RelativeError(actual.Output, expected.Output);
            Assert.True(error < 1e-6, $"seed {seed}: fused output {error:E2} from the staged one");
            Assert.Equal(expected.ErrorThreshold, actual.ErrorThreshold);
        }
        Assert.Equal(2, fusedBackend.ProbeCalls);
    }
}
