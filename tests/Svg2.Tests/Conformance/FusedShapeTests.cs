using Svg2.Attention;
using Svg2.Backends;
using Svg2.Configuration;
using Svg2.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Conformance;

/// <summary>The key of the fused pipelines a backend shares across layers, and the fallback where nothing can fuse.</summary>
public class FusedShapeTests
{
    [Fact]
    public void ShapesOfEqualCallsAreEqualAndTextMatters()
    {
        using var q = zeros([6, 300, 64], ScalarType.BFloat16);
        var plain = FusedShape.Of(q, 10, 40, null);
        Assert.Equal(new FusedShape(6, 300, 64, 10, 40, ScalarType.BFloat16, DeviceType.CPU, 0, null), plain);
        Assert.Equal(plain, FusedShape.Of(q, 10, 40, null));
        Assert.NotEqual(plain, FusedShape.Of(q, 10, 40, new TextTokens(20, 5)));
        Assert.NotEqual(FusedShape.Of(q, 10, 40, new TextTokens(20, 5)), FusedShape.Of(q, 10, 40, new TextTokens(20, 6)));
        Assert.NotEqual(plain, FusedShape.Of(q, 11, 40, null));
        Assert.Equal(FusedShape.Of(q, 10, 40, new TextTokens(20, 5)), FusedShape.Of(q, 10, 40, new TextTokens(20, 5)));
    }

    [Fact]
    public void TheCudaBackendDoesNotFuseCpuInputsAndMakesNoPipelineForThem()
    {
        using var backend = new CudaBackend();
        using var q = zeros([2, 64, 128], ScalarType.BFloat16);
        Assert.False(backend.CanFuse(q, q, q, null, out var reason));
        Assert.Contains("CUDA", reason);
        Assert.Throws<ArgumentException>(() => backend.PipelineFor(FusedShape.Of(q, 4, 8, null)));
        Assert.Equal(0, backend.CachedPipelines);
    }

    [Fact]
    public void AnOperatorOverTheCudaBackendRunsCpuInputsThroughTheStagedPathOrRefusesThem()
    {
        using var backend = new CudaBackend();
        var attention = new Svg2Attention(new Svg2Options { QueryClusters = 4, KeyClusters = 8, ScaleClusterCounts = false }, backend);
        using var q = randn([1, 2, 64, 128]).to(ScalarType.BFloat16);
        using var state = new Svg2LayerState();
        // The staged path asks the backend, which refuses CPU tensors with its reason.
        var error = Assert.Throws<NotSupportedException>(() => attention.Forward(q, q, q, state));
        Assert.Contains("CUDA", error.Message);
        Assert.Equal(0, backend.CachedPipelines);
    }

    [Fact]
    public void ADisposedBackendMakesNoPipelines()
    {
        var backend = new CudaBackend();
        backend.Dispose();
        Assert.Throws<ObjectDisposedException>(() => backend.PipelineFor(new FusedShape(1, 10, 128, 2, 2, ScalarType.BFloat16, DeviceType.CUDA, 0, null)));
    }
}
