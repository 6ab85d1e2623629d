using Svg2.Attention;
using Svg2.Configuration;
using Svg2.IO;
using Svg2.Methods;

namespace Svg2.Tests.Methods;

/// <summary>SVG2 against the position-block baseline on real attention inputs of a trained transformer.</summary>
public class RealDataQualityTests
{
    [Fact]
    public void Svg2BeatsPositionBlocksAtEqualDensityOnRealAttention()
    {
        var (q4, k4, v4) = QkvFile.Read(SharedData.Path("minilm-text-qkv.safetensors"));
        var (q, k, v) = (AttentionInputs.Flatten(q4), AttentionInputs.Flatten(k4), AttentionInputs.Flatten(v4));
        var grid = TokenGrid.Sequence(q.shape[1]);
        var options = new Svg2Options();
        foreach (double density in new[] { 0.2, 0.3 })
        {
            var svg2 = MethodRunner.Run(MethodCatalog.Create("svg2", options, grid, targetDensity: density), q, k, v, new(TargetDensity: density)).Measurement;
            var blocks = MethodRunner.Run(MethodCatalog.Create("blocks", options, grid, targetDensity: density), q, k, v, new(TargetDensity: density)).Measurement;
            Assert.InRange(svg2.MeanDensity, density * 0.98, density * 1.02);
            Assert.InRange(blocks.MeanDensity, density * 0.98, density * 1.02);
            Assert.True(svg2.MeanRelativeError < blocks.MeanRelativeError,
                $"at {density:P0}: SVG2 error {svg2.MeanRelativeError:F3} is not below position blocks' {blocks.MeanRelativeError:F3}");
            Assert.True(svg2.MeanRecall > blocks.MeanRecall);
        }
    }
}
