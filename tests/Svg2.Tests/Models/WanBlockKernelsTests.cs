using Svg2.Cuda.Runtime;
using Svg2.Models.Kernels;
using Svg2.Models.Wan;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Models;

/// <summary>
/// One contract for every <see cref="IWanBlockKernels"/>, run per backend: the portable operations on
/// the CPU, and the fused CUDA kernels where a GPU exists (skipped otherwise). Expected values are
/// float64 formulas written here, on fresh random inputs.
/// </summary>
public class WanBlockKernelsTests
{
    public static TheoryData<string> Backends => new() { "torch-cpu", "cuda" };

    static (IWanBlockKernels Kernels, Device Device, ScalarType Dtype, double Tolerance) Backend(string name)
    {
        if (name == "torch-cpu") return (TorchWanBlockKernels.Instance, CPU, ScalarType.BFloat16, 1e-2);
        Skip.IfNot(CudaDevice.IsAvailable(out var reason), $"no CUDA device: {reason}");
        Skip.IfNot(torch.cuda.is_available(), "libtorch has no CUDA");
        return (CudaWanBlockKernels.Instance, torch.device(DeviceType.CUDA, 0), ScalarType.BFloat16, 1e-2);
    }

    static double RelativeError(Tensor actual, Tensor expected)
    {
        using var a = actual.to(ScalarType.Float64, CPU);
        using var e = expected.to(ScalarType.Float64, CPU);
        Assert.True(a.isfinite().all().item<bool>(), "an output element is not finite (not written?)");
        return (a - e).norm().item<double>() / e.norm().item<double>();
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public void ModulatedLayerNormMatchesFloat64(string backend)
    {
        var (kernels, device, dtype, tolerance) = Backend(backend);
        var generator = new Generator(31);
        long batch = 2, tokens = 203, width = 1536;
        var x = (randn([batch, tokens, width], generator: generator) * 3 + 1).to(dtype, device);
        var weight = (randn([width], generator: generator) * 0.2 + 1).to(device);
        var bias = (randn([width], generator: generator) * 0.2).to(device);
        var shift = randn([batch, width], generator: generator).to(device);
        var scale = (randn([batch, width], generator: generator) * 0.3).to(device);

        var x64 = x.to(ScalarType.Float64, CPU);
        var mean = x64.mean([-1], keepdim: true);
        var normalised = (x64 - mean) / (x64 - mean).pow(2).mean([-1], keepdim: true).add(1e-6).sqrt();
        var affine = normalised * weight.to(ScalarType.Float64, CPU) + bias.to(ScalarType.Float64, CPU);
        var modulated = affine * (1 + scale.to(ScalarType.Float64, CPU).unsqueeze(1)) + shift.to(ScalarType.Float64, CPU).unsqueeze(1);

        using var plain = kernels.ModulatedLayerNorm(x, null, null, null, null, 1e-6);
        using var both = kernels.ModulatedLayerNorm(x, weight, bias, shift, scale, 1e-6);
        Assert.Equal(x.dtype, both.dtype);
        Assert.True(RelativeError(plain, normalised) < tolerance);
        Assert.True(RelativeError(both, modulated) < tolerance);
        // Each batch element has its own modulation: swapping them must change the output.
        using var swapped = kernels.ModulatedLayerNorm(x, weight, bias, shift.flip(0), scale.flip(0), 1e-6);
        Assert.True(RelativeError(swapped, modulated) > 0.1);
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public void GatedResidualAddMatchesFloat64(string backend)
    {
        var (kernels, device, dtype, tolerance) = Backend(backend);
        var generator = new Generator(32);
        long batch = 2, tokens = 77, width = 1024;
        var x = randn([batch, tokens, width], generator: generator).to(dtype, device);
        var y = randn([batch, tokens, width], generator: generator).to(dtype, device);
        var gate = randn([batch, width], generator: generator).to(device);
        var expectedGated = x.to(ScalarType.Float64, CPU) + y.to(ScalarType.Float64, CPU) * gate.to(ScalarType.Float64, CPU).unsqueeze(1);
        var expectedPlain = expectedGated + y.to(ScalarType.Float64, CPU);

        kernels.GatedResidualAdd(x, y, gate);
        Assert.True(RelativeError(x, expectedGated) < tolerance);
        kernels.GatedResidualAdd(x, y, null);
        Assert.True(RelativeError(x, expectedPlain) < tolerance);
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public void RmsNormToHeadsMatchesTheNormThenTheRotation(string backend)
    {
        var (kernels, device, dtype, tolerance) = Backend(backend);
        var generator = new Generator(33);
        var grid = new LatentGrid(3, 5, 7);
        int heads = 4, headDim = 128;
        long batch = 2, width = heads * headDim;
        var x = (randn([batch, grid.Tokens, width], generator: generator) * 2).to(dtype, device);
        var weight = (randn([width], generator: generator) * 0.3 + 1).to(device);
        using var rope = new WanRotaryEmbedding(grid, headDim, device);

        var x64 = x.to(ScalarType.Float64, CPU);
        var normalised = x64 / x64.pow(2).mean([-1], keepdim: true).add(1e-6).sqrt() * weight.to(ScalarType.Float64, CPU);
        var split = normalised.view(batch, grid.Tokens, heads, headDim);
        var expectedPlain = split.transpose(1, 2);
        var expectedRotated = WanRotaryEmbedding.Rotate(split.to(ScalarType.Float32), rope.Cos.cpu(), rope.Sin.cpu()).transpose(1, 2);

        using var plain = kernels.RmsNormToHeads(x, weight, heads, null, null, 1e-6);
        using var rotated = kernels.RmsNormToHeads(x, weight, heads, rope.Cos, rope.Sin, 1e-6);
        Assert.Equal(new[] { batch, heads, grid.Tokens, headDim }, rotated.shape);
        Assert.True(rotated.is_contiguous());
        Assert.Equal(x.dtype, rotated.dtype);
        Assert.True(RelativeError(plain, expectedPlain) < tolerance);
        Assert.True(RelativeError(rotated, expectedRotated) < tolerance);
        Assert.True(RelativeError(rotated, expectedPlain) > 0.1);
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public void BadArgumentsNameTheProblem(string backend)
    {
        var (kernels, device, dtype, _) = Backend(backend);
        var x = randn([1, 8, 256]).to(dtype, device);
        var vector = zeros([1, 256]).to(device);
        Assert.Contains("both shift and scale", Assert.Throws<ArgumentException>(() => kernels.ModulatedLayerNorm(x, null, null, vector, null, 1e-6)).Message);
        Assert.Contains("[1, 256]", Assert.Throws<ArgumentException>(() => kernels.ModulatedLayerNorm(x, null, null, zeros([2, 256]).to(device), vector, 1e-6)).Message);
        Assert.Contains("float32", Assert.Throws<ArgumentException>(() => kernels.GatedResidualAdd(x, x.clone(), vector.to(dtype))).Message);
        Assert.Contains("must match", Assert.Throws<ArgumentException>(() => kernels.GatedResidualAdd(x, randn([1, 7, 256]).to(dtype, device), null)).Message);
        Assert.Contains("3 heads", Assert.Throws<ArgumentException>(() => kernels.RmsNormToHeads(x, ones(256).to(device), 3, null, null, 1e-6)).Message);
        Assert.Contains("both cos and sin", Assert.Throws<ArgumentException>(() => kernels.RmsNormToHeads(x, ones(256).to(device), 2, zeros([8, 64]).to(device), null, 1e-6)).Message);
        Assert.Contains("[8, 64]", Assert.Throws<ArgumentException>(() => kernels.RmsNormToHeads(x, ones(256).to(device), 2, zeros([8, 32]).to(device), zeros([8, 32]).to(device), 1e-6)).Message);
    }

    [Fact]
    public void TheChoiceFallsBackOnTheCpuAndSaysWhy()
    {
        var kernels = WanBlockKernelChoice.For(CPU, ScalarType.BFloat16, out var reason);
        Assert.IsType<TorchWanBlockKernels>(kernels);
        Assert.Contains("not a CUDA device", reason);
        using var model = TinyWan.Model(1);
        Assert.IsType<TorchWanBlockKernels>(model.BlockKernels);
        Assert.NotNull(model.BlockKernelsFallbackReason);
    }
}
