using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Statistics;
using Svg2.Evaluation.Workloads;
using Xunit.Abstractions;

namespace Svg2.Tests.Workloads;

/// <summary>
/// The property the workload exists for: at equal density, semantic clusters (SVG2) keep more of
/// the exact attention mass than blocks of consecutive tokens.
/// </summary>
public class WorkloadMethodComparisonTests(ITestOutputHelper output)
{
    [Fact]
    public void SemanticClustersKeepMoreMassThanPositionBlocksAtEqualDensity()
    {
        var shape = new VideoShape(6, 12, 20, 8, 64);
        using var sample = VideoLikeWorkload.Generate(shape, seed: 5);
        var (q, k, v) = (sample.Query[0], sample.Key[0], sample.Value[0]);
        var svg2 = Recall(new Svg2Method(new Svg2Options()), q, k, v);
        var blocks = Recall(PositionBlocksMethod.OfSize(64), q, k, v);
        for (int h = 0; h < shape.Heads; h++)
            output.WriteLine($"head {h} {sample.HeadKinds[h]}: recall svg2 {svg2[h]:F3}, blocks {blocks[h]:F3}");

        Assert.True(svg2.Average() > blocks.Average() + 0.05, $"mean recall svg2 {svg2.Average():F3}, blocks {blocks.Average():F3}");
        var semantic = Enumerable.Range(0, shape.Heads).Where(h => sample.HeadKinds[h] == HeadKind.Semantic).ToArray();
        Assert.True(semantic.Average(h => svg2[h]) > semantic.Average(h => blocks[h]),
            $"semantic heads: svg2 {semantic.Average(h => svg2[h]):F3}, blocks {semantic.Average(h => blocks[h]):F3}");
    }

    private static double[] Recall(IAttentionMethod method, TorchSharp.torch.Tensor q, TorchSharp.torch.Tensor k, TorchSharp.torch.Tensor v)
    {
        using var prepared = method.Prepare(q, k, v);
        var found = DensitySearch.Find(prepared, 0.15);
        Assert.True(found.WithinTolerance, $"{method.Name} reached density {found.Density:F3}, not 0.15.");
        using var attended = prepared.Attend(found.Pattern);
        return AttentionQuality.Measure(q, k, v, attended, found.Pattern).Recall;
    }
}
