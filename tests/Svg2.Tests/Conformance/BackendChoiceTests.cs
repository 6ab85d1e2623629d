using Svg2.Configuration;
using Svg2.Algorithm;
using Svg2.Backends;
using static TorchSharp.torch;

namespace Svg2.Tests.Conformance;

public class BackendChoiceTests
{
    sealed class DecliningBackend : ISvg2Backend
    {
        public string Name => "declining";
        public bool Supports(Tensor q, Tensor k, Tensor v, out string? reason) { reason = "head dimension 96 is not compiled"; return false; }
        public KMeansResult KMeans(Tensor points, Tensor initialCentroids, int iterations, KMeansPrecision precision) => throw new NotSupportedException();
        public ClusterLayout Layout(Tensor labels, int clusters) => throw new NotSupportedException();
        public Tensor SelectKeyClusters(Tensor queryCentroids, Tensor keyCentroids, Tensor keySizes, SelectionRule rule) => throw new NotSupportedException();
        public Tensor BlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale) => throw new NotSupportedException();
    }

    [Fact]
    public void ADecliningBackendFallsBackToTheReferenceAndSaysWhy()
    {
        var x = zeros(2, 8, 96);
        var chosen = BackendChoice.For(new DecliningBackend(), x, x, x, out var reason);
        Assert.Same(ReferenceBackend.Instance, chosen);
        Assert.Contains("head dimension 96", reason);
    }

    [Fact]
    public void NoPreferenceMeansTheReference()
    {
        var x = zeros(2, 8, 16);
        Assert.Same(ReferenceBackend.Instance, BackendChoice.For(null, x, x, x, out var reason));
        Assert.Null(reason);
    }

    [Fact]
    public void TheOperatorRefusesInputsItsBackendDeclines()
    {
        var x = zeros(1, 1, 8, 96);
        var error = Assert.Throws<NotSupportedException>(() => new Svg2.Attention.Svg2Attention(new Svg2.Configuration.Svg2Options(), new DecliningBackend())
            .Forward(x, x, x, new Svg2.Attention.Svg2LayerState()));
        Assert.Contains("declining backend cannot run", error.Message);
    }

    [Fact]
    public void CompensationFallsBackToTheReferenceOnABackendWithoutItAndSaysWhy()
    {
        var ear = Svg2.Evaluation.Methods.MethodCatalog.OptionsFor("svg2-ear", new Svg2.Configuration.Svg2Options());
        var declining = new DecliningBackend();
        var attention = new Svg2.Attention.Svg2Attention(ear, declining);
        Assert.Same(ReferenceBackend.Instance, attention.Backend);
        Assert.Contains("declining backend has no kernels for centroid compensation", attention.FallbackReason);
        Assert.Contains("svg2-ear", attention.FallbackReason);

        var plain = new Svg2.Attention.Svg2Attention(new Svg2.Configuration.Svg2Options(), declining);
        Assert.Same(declining, plain.Backend);
        Assert.Null(plain.FallbackReason);

        // The CUDA backend compensates (its kernels, or the reference attention where they cannot).
        using var cuda = new Svg2.Cuda.CudaBackend();
        var onCuda = new Svg2.Attention.Svg2Attention(ear, cuda);
        Assert.Same(cuda, onCuda.Backend);
        Assert.Null(onCuda.FallbackReason);
    }
}
