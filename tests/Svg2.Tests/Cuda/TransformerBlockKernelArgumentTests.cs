using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using Svg2.Cuda.Traits;
using Svg2.Evaluation.Verification;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Cuda;

/// <summary>
/// Argument checks of the fused transformer-block kernels, which run before any driver call and so
/// are checked without a GPU; and their GPU conformance, skipped without CUDA.
/// </summary>
public class TransformerBlockKernelArgumentTests
{
    const int Batch = 2, Tokens = 5, Width = 256, HeadDim = 128;

    static Tensor Activation(long width = Width, ScalarType dtype = ScalarType.BFloat16) => randn(Batch, Tokens, width).to(dtype);

    static Tensor Floats(params long[] shape) => randn(shape);

    [Fact]
    public void SupportsRejectsCpuTensorsNamingTheDevice()
    {
        using var x = Activation();
        Assert.False(TransformerBlockKernels.Supports(x, out var reason));
        Assert.Contains("not a CUDA device", reason);
        Assert.Contains("cpu", reason);
    }

    [Fact]
    public void ActivationProblemsAreNamed()
    {
        using var float32 = Activation(dtype: ScalarType.Float32);
        using var twoDimensional = randn(Tokens, Width).to(ScalarType.BFloat16);
        using var strided = randn(Batch, Width, Tokens).to(ScalarType.BFloat16).transpose(1, 2);
        using var odd = Activation(width: 100);
        using var wide = Activation(width: TransformerBlockKernels.MaxWidth + 8);
        using var output = Activation();
        Assert.Contains("Float32", LayerNormError(float32, output).Message);
        Assert.Contains("[B, S, W]", LayerNormError(twoDimensional, output).Message);
        Assert.Contains("contiguous", LayerNormError(strided, output).Message);
        Assert.Contains("multiple of 8", LayerNormError(odd, output).Message);
        Assert.Contains("wider than the 8192", LayerNormError(wide, output).Message);
    }

    [Fact]
    public void FloatSixteenActivationIsRejectedByABFloat16Library()
    {
        using var x = Activation(dtype: ScalarType.Float16);
        var error = Assert.Throws<ArgumentException>(() => TransformerBlockKernels.ValidateGatedResidualAdd(ScalarType.BFloat16, x, x, null));
        Assert.Contains("BFloat16", error.Message);
        Assert.Contains("Float16", error.Message);
        Assert.Equal("x", error.ParamName);
    }

    [Fact]
    public void LayerNormWithOnlyShiftIsRejected()
    {
        using var x = Activation();
        using var output = Activation();
        using var shift = Floats(Batch, Width);
        var error = Assert.Throws<ArgumentException>(() =>
            TransformerBlockKernels.ValidateModulatedLayerNorm(ScalarType.BFloat16, x, output, null, null, shift, null));
        Assert.Contains("shift and scale must both be given", error.Message);
        Assert.Contains($"[{Batch}, {Width}]", error.Message);
        Assert.Equal("scale", error.ParamName);
    }

    [Fact]
    public void LayerNormParameterShapesAndDtypesAreNamed()
    {
        using var x = Activation();
        using var output = Activation();
        using var shortWeight = Floats(Width - 8);
        var weightError = Assert.Throws<ArgumentException>(() =>
            TransformerBlockKernels.ValidateModulatedLayerNorm(ScalarType.BFloat16, x, output, shortWeight, null, null, null));
        Assert.Equal("weight", weightError.ParamName);
        Assert.Contains($"[{Width}]", weightError.Message);
        Assert.Contains($"[{Width - 8}]", weightError.Message);

        using var halfBias = Floats(Width).to(ScalarType.BFloat16);
        var biasError = Assert.Throws<ArgumentException>(() =>
            TransformerBlockKernels.ValidateModulatedLayerNorm(ScalarType.BFloat16, x, output, null, halfBias, null, null));
        Assert.Equal("bias", biasError.ParamName);
        Assert.Contains("Float32", biasError.Message);

        using var oneRowShift = Floats(1, Width);
        using var scale = Floats(Batch, Width);
        var shiftError = Assert.Throws<ArgumentException>(() =>
            TransformerBlockKernels.ValidateModulatedLayerNorm(ScalarType.BFloat16, x, output, null, null, oneRowShift, scale));
        Assert.Equal("shift", shiftError.ParamName);
        Assert.Contains($"[{Batch}, {Width}]", shiftError.Message);
    }

    [Fact]
    public void LayerNormOutputShapeMustMatch()
    {
        using var x = Activation();
        using var output = Activation(width: Width + 8);
        var error = LayerNormError(x, output);
        Assert.Equal("output", error.ParamName);
        Assert.Contains($"[{Batch}, {Tokens}, {Width}]", error.Message);
        Assert.Contains($"[{Batch}, {Tokens}, {Width + 8}]", error.Message);
    }

    [Fact]
    public void WellFormedCpuTensorsAreRejectedForTheirDevice()
    {
        using var x = Activation();
        using var output = Activation();
        var error = LayerNormError(x, output);
        Assert.Contains("CUDA device", error.Message);
        Assert.Contains("cpu", error.Message);
        using var y = Activation();
        using var gate = Floats(Batch, Width);
        Assert.Contains("CUDA device", Assert.Throws<ArgumentException>(() => TransformerBlockKernels.ValidateGatedResidualAdd(ScalarType.BFloat16, x, y, gate)).Message);
    }

    [Fact]
    public void GatedResidualShapesAreNamed()
    {
        using var x = Activation();
        using var shortY = randn(Batch, Tokens - 1, Width).to(ScalarType.BFloat16);
        var yError = Assert.Throws<ArgumentException>(() => TransformerBlockKernels.ValidateGatedResidualAdd(ScalarType.BFloat16, x, shortY, null));
        Assert.Equal("y", yError.ParamName);
        Assert.Contains($"[{Batch}, {Tokens - 1}, {Width}]", yError.Message);

        using var y = Activation();
        using var flatGate = Floats(Width);
        var gateError = Assert.Throws<ArgumentException>(() => TransformerBlockKernels.ValidateGatedResidualAdd(ScalarType.BFloat16, x, y, flatGate));
        Assert.Equal("gate", gateError.ParamName);
        Assert.Contains($"[{Batch}, {Width}]", gateError.Message);
    }

    [Fact]
    public void RmsNormToHeadsChecksTheHeadLayout()
    {
        using var x = Activation();
        using var weight = Floats(Width);
        using var cos = Floats(Tokens, HeadDim / 2);
        using var sin = Floats(Tokens, HeadDim / 2);
        using var output = zeros(Batch, Width / HeadDim, Tokens, HeadDim).to(ScalarType.BFloat16);

        using var notHeads = Activation(width: 200);
        Assert.Contains("multiple of the head dimension 128",
            Assert.Throws<ArgumentException>(() => TransformerBlockKernels.ValidateRmsNormToHeads(ScalarType.BFloat16, HeadDim, notHeads, weight, cos, sin, output)).Message);

        var onlyCos = Assert.Throws<ArgumentException>(() => TransformerBlockKernels.ValidateRmsNormToHeads(ScalarType.BFloat16, HeadDim, x, weight, cos, null, output));
        Assert.Contains("cos and sin must both be given", onlyCos.Message);
        Assert.Equal("sin", onlyCos.ParamName);

        using var longTable = Floats(Tokens + 1, HeadDim / 2);
        var tableError = Assert.Throws<ArgumentException>(() => TransformerBlockKernels.ValidateRmsNormToHeads(ScalarType.BFloat16, HeadDim, x, weight, longTable, sin, output));
        Assert.Equal("cos", tableError.ParamName);
        Assert.Contains($"[{Tokens}, {HeadDim / 2}]", tableError.Message);

        using var tokenMajor = zeros(Batch, Tokens, Width / HeadDim, HeadDim).to(ScalarType.BFloat16);
        var outputError = Assert.Throws<ArgumentException>(() => TransformerBlockKernels.ValidateRmsNormToHeads(ScalarType.BFloat16, HeadDim, x, weight, cos, sin, tokenMajor));
        Assert.Equal("output", outputError.ParamName);
        Assert.Contains($"[{Batch}, {Width / HeadDim}, {Tokens}, {HeadDim}]", outputError.Message);

        Assert.Contains("CUDA device",
            Assert.Throws<ArgumentException>(() => TransformerBlockKernels.ValidateRmsNormToHeads(ScalarType.BFloat16, HeadDim, x, weight, cos, sin, output)).Message);
    }

    [Theory]
    [InlineData(1536, 64)]
    [InlineData(1288, 64)]
    [InlineData(5120, 160)]
    [InlineData(8192, 256)]
    [InlineData(8, 32)]
    public void RowBlocksHoldAtMostFourVectorsPerThread(int width, int threads)
    {
        Assert.Equal(threads, TransformerBlockTraits.RowThreads(width));
        Assert.True(TransformerBlockTraits.RowThreads(width) * 4 * TransformerBlockKernels.VectorElements >= width);
    }

    [Fact]
    public void TheKernelProgramIsRegistered()
    {
        Assert.Contains("transformer_block.cu", KernelSources.Programs);
        var source = KernelSources.Read("transformer_block.cu");
        foreach (var kernel in KernelLibrary.KernelNames("transformer_block.cu"))
            Assert.Contains($"{kernel}(", source);
    }

    [SkippableFact]
    public void KernelsMatchFloat32References()
    {
        Skip.IfNot(CudaDevice.IsAvailable(out var reason), $"no CUDA device: {reason}");
        Skip.IfNot(torch.cuda.is_available(), "libtorch has no CUDA");
        var failures = TransformerBlockConformance.RunAll(torch.device(DeviceType.CUDA, 0), 19).Where(r => !r.Passed).ToList();
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Select(f => $"{f.Check}: {f.Detail}")));
    }

    static ArgumentException LayerNormError(Tensor x, Tensor output) =>
        Assert.Throws<ArgumentException>(() => TransformerBlockKernels.ValidateModulatedLayerNorm(ScalarType.BFloat16, x, output, null, null, null, null));
}
