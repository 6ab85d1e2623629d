using Svg2.Cuda.Runtime;
using Svg2.Evaluation.Verification;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Cuda;

/// <summary>The GPU conformance checks (the same code as <c>svg2 verify --device cuda</c>); skipped without CUDA.</summary>
public class CudaConformanceTests
{
    static Device Gpu()
    {
        Skip.IfNot(CudaDevice.IsAvailable(out var reason), $"no CUDA device: {reason}");
        Skip.IfNot(torch.cuda.is_available(), "libtorch has no CUDA");
        return torch.device(DeviceType.CUDA, 0);
    }

    static void AssertPassed((bool Passed, string Detail) result) => Assert.True(result.Passed, result.Detail);

    [SkippableTheory]
    [InlineData(ScalarType.BFloat16, 128)]
    [InlineData(ScalarType.Float16, 64)]
    public void CountingSortMatchesStableSort(ScalarType dtype, int dim) => AssertPassed(CudaConformance.CountingSortMatches(Gpu(), dtype, dim, 11));

    [SkippableTheory]
    [InlineData(ScalarType.BFloat16, 128, 150)]
    [InlineData(ScalarType.Float16, 64, 150)]
    [InlineData(ScalarType.BFloat16, 128, 16)]
    public void KMeansMatchesFloat32Lloyd(ScalarType dtype, int dim, int clusters) =>
        AssertPassed(CudaConformance.KMeansMatches(Gpu(), dtype, dim, 12, clusters));

    [SkippableTheory]
    [InlineData(ScalarType.BFloat16, 128, 40)]
    [InlineData(ScalarType.BFloat16, 128, 6)]
    [InlineData(ScalarType.BFloat16, 64, 6)]
    [InlineData(ScalarType.Float16, 128, 40)]
    public void SparseAttentionMatchesMaskedReference(ScalarType dtype, int dim, int queryClusters) =>
        AssertPassed(CudaConformance.SparseAttentionMatches(Gpu(), dtype, dim, 13, queryClusters));

    [SkippableTheory]
    [InlineData(0.9, 0.1, 0.5, 1000, 128)]
    [InlineData(0.9, 0.0, 2.0, 777, 128)]
    [InlineData(0.997, 0.0, 1.0, 1000, 64)]
    public void SelectionMatchesFloat32Reference(double topP, double minimumRatio, double centroidScale, int keyClusters, int dim) =>
        AssertPassed(CudaConformance.SelectionMatches(Gpu(), 14, topP, minimumRatio, centroidScale, 150, keyClusters, dim));

    [SkippableFact]
    public void SelectionBf16KeepsMinimumAndFirst() => AssertPassed(CudaConformance.SelectionInvariantsBf16(Gpu(), 15));

    [SkippableFact]
    public void AllTrueMaskEqualsDenseAttention() => AssertPassed(CudaConformance.AllTrueMaskEqualsDense(Gpu(), 16));

    [SkippableFact]
    public void PlanStatisticsMatchTorchSharpReductions() => AssertPassed(CudaConformance.PlanStatisticsMatch(Gpu(), 20));

    [SkippableFact]
    public void SteadyStateCallReplaysFromACudaGraph() => AssertPassed(CudaConformance.GraphCaptureReplays(Gpu(), 17));

    [SkippableFact]
    public void VideoTextCallKeepsTextOutsideClustering() => AssertPassed(CudaConformance.PipelineWithTextMatchesOperator(Gpu(), 18));

    [SkippableFact]
    public void BadInputsAreRejected() => AssertPassed(CudaConformance.BadInputsRejected(Gpu()));

    [SkippableTheory]
    [InlineData(ScalarType.BFloat16, 128)]
    [InlineData(ScalarType.Float16, 64)]
    public void NonFiniteAssignmentMatchesTheReference(ScalarType dtype, int dim) => AssertPassed(NonFiniteConformance.AssignmentMatches(Gpu(), dtype, dim, 19));

    [SkippableTheory]
    [InlineData(Svg2.Algorithm.SelectionPrecision.Float32)]
    [InlineData(Svg2.Algorithm.SelectionPrecision.BFloat16Emulated)]
    public void NonFiniteSelectionMatchesTheReference(Svg2.Algorithm.SelectionPrecision precision) =>
        AssertPassed(NonFiniteConformance.SelectionMatches(Gpu(), precision, 20));

    [SkippableFact]
    public void NonFiniteAttentionMatchesTheReference() => AssertPassed(NonFiniteConformance.AttentionMatches(Gpu(), ScalarType.BFloat16, 128, 21));

    [SkippableFact]
    public void NonFiniteOperatorMatchesTheReference() => AssertPassed(NonFiniteConformance.OperatorMatches(Gpu(), 22));

    [SkippableFact]
    public void EveryStageRepeatsBitForBit() => AssertPassed(DeterminismConformance.StagesRepeat(Gpu(), ScalarType.BFloat16, 128, 23));

    [SkippableFact]
    public void TheFusedOperatorRepeatsBitForBit() => AssertPassed(DeterminismConformance.OperatorRepeats(Gpu(), 24));
}
