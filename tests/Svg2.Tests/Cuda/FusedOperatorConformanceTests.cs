using Svg2.Attention;
using Svg2.Cuda.Runtime;
using Svg2.Evaluation.Verification;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Cuda;

/// <summary>The fused operator's GPU checks (also run by <c>svg2 verify --device cuda</c>); skipped without CUDA.</summary>
public class FusedOperatorConformanceTests
{
    static Device Gpu()
    {
        Skip.IfNot(CudaDevice.IsAvailable(out var reason), $"no CUDA device: {reason}");
        Skip.IfNot(torch.cuda.is_available(), "libtorch has no CUDA");
        return torch.device(DeviceType.CUDA, 0);
    }

    static void AssertPassed((bool Passed, string Detail) result) => Assert.True(result.Passed, result.Detail);

    [SkippableFact]
    public void FusedOperatorMatchesTheStagedPath() => AssertPassed(FusedOperatorConformance.FusedMatchesStaged(Gpu(), 31, null));

    [SkippableFact]
    public void FusedOperatorWithTextMatchesTheStagedPath() => AssertPassed(FusedOperatorConformance.FusedMatchesStaged(Gpu(), 32, new TextTokens(128, 48)));

    [SkippableFact]
    public void FusedOperatorMatchesTheReference() => AssertPassed(FusedOperatorConformance.FusedMatchesReference(Gpu(), 33));

    [SkippableFact]
    public void LayersSharingAPipelineGetTheirOwnOutputs() => AssertPassed(FusedOperatorConformance.SharedPipelineOutputsAreNotAliased(Gpu(), 34));

    [SkippableFact]
    public void FusedOperatorReachesATargetDensity() => AssertPassed(FusedOperatorConformance.TargetDensityReached(Gpu(), 35));
}
