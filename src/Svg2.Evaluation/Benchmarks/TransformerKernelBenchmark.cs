using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>
/// Bandwidth of the fused transformer-block kernels (<see cref="TransformerBlockKernels"/>) against the
/// TorchSharp op chains they replace, on one [1, tokens, heads x headDim] activation of random data.
/// </summary>
public static class TransformerKernelBenchmark
{
    const int WarmupIterations = 3;
    const double Eps = 1e-6;
    const double ParameterSpread = 0.1;

    /// <summary>
    /// Times each fused kernel and its TorchSharp equivalent: the mean over <paramref name="iterations"/>
    /// calls after 3 warm-ups, between CUDA events on the legacy default stream (the one libtorch uses).
    /// </summary>
    /// <param name="device">A CUDA device.</param>
    /// <param name="dtype">BFloat16 or Float16: the residual stream's element type.</param>
    /// <param name="heads">Attention heads H (Wan 14B: 40).</param>
    /// <param name="headDim">Head dimension D, 64 or 128; the width is H x D.</param>
    /// <param name="tokens">Tokens S of the one batch element (Wan 720p, 81 frames: 75600).</param>
    /// <param name="iterations">Timed calls per measurement.</param>
    /// <remarks>
    /// Bytes counted: modulated layer norm: x read and the output written once (2 bytes an element
    /// each), plus weight, bias, shift and scale (W floats each); gated residual add: x and y read and
    /// x written, plus the gate (W floats); RMS norm to heads: x read and the head-major output written,
    /// plus the weight (W floats) and the cos and sin tables (S x D / 2 floats each).
    /// </remarks>
    public static IReadOnlyList<KernelBandwidth> Measure(Device device, ScalarType dtype, int heads, int headDim, long tokens, int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        var cuda = CudaDevice.Get(Math.Max(0, (int)device.index));
        var library = KernelLibrary.For(cuda, dtype, headDim);
        var tag = dtype == ScalarType.BFloat16 ? "bf16" : "fp16";
        using var scope = NewDisposeScope();
        int width = heads * headDim, pairs = headDim / 2;
        var x = randn([1, tokens, width], dtype, device);
        var y = randn([1, tokens, width], dtype, device);
        var residual = x.clone();
        var normalised = empty_like(x);
        var headMajor = empty([1, heads, tokens, headDim], dtype, device);
        Tensor Parameters(long[] shape, double mean) => randn(shape, ScalarType.Float32, device) * ParameterSpread + mean;
        var weight = Parameters([width], 1);
        var bias = Parameters([width], 0);
        var shift = Parameters([1, width], 0);
        var scale = Parameters([1, width], 0);
        var gate = Parameters([1, width], 0);
        var angles = rand([tokens, pairs], ScalarType.Float32, device) * (2 * Math.PI);
        var cos = angles.cos().contiguous();
        var sin = angles.sin().contiguous();

        long elementBytes = dtype.ElementSize();
        long activation = tokens * width * elementBytes;
        long parameterRow = (long)width * sizeof(float);
        long table = tokens * pairs * sizeof(float);
        long layerNormBytes = 2 * activation + 4 * parameterRow;
        long residualBytes = 3 * activation + parameterRow;
        long headsBytes = 2 * activation + parameterRow + 2 * table;

        var results = new List<KernelBandwidth>
        {
            Time($"svg2: modulated layer norm ({tag} residual)", layerNormBytes, cuda, iterations,
                () => TransformerBlockKernels.EnqueueModulatedLayerNorm(library, x, normalised, weight, bias, shift, scale, Eps, IntPtr.Zero)),
            Time($"torch: layer_norm + modulate ({tag} residual)", layerNormBytes, cuda, iterations,
                () => (nn.functional.layer_norm(x.to(ScalarType.Float32), [width], weight, bias, Eps) * (1 + scale) + shift).to(dtype)),
            Time($"svg2: gated residual add ({tag})", residualBytes, cuda, iterations,
                () => TransformerBlockKernels.EnqueueGatedResidualAdd(library, residual, y, gate, IntPtr.Zero)),
            Time("torch: x + y * gate", residualBytes, cuda, iterations, () => residual.add_(y * gate)),
            Time($"svg2: RMS norm + RoPE to heads ({tag})", headsBytes, cuda, iterations,
                () => TransformerBlockKernels.EnqueueRmsNormToHeads(library, x, weight, cos, sin, headMajor, Eps, IntPtr.Zero)),
            Time($"torch: RMS norm + RoPE + transpose to heads ({tag})", headsBytes, cuda, iterations,
                () => TorchRmsNormToHeads(x, weight, cos, sin, heads, headDim)),
        };
        return results;
    }

    /// <summary>The unfused chain: float32 RMS norm, the pair rotation, the cast and the head-major copy.</summary>
    static Tensor TorchRmsNormToHeads(Tensor x, Tensor weight, Tensor cos, Tensor sin, int heads, int headDim)
    {
        long tokens = x.shape[1];
        int pairs = headDim / 2;
        var xf = x.to(ScalarType.Float32);
        var normed = (xf * rsqrt(xf.pow(2).mean([-1], keepdim: true) + Eps) * weight).view(1, tokens, heads, pairs, 2);
        var real = normed.select(-1, 0);
        var imaginary = normed.select(-1, 1);
        var c = cos.view(1, tokens, 1, pairs);
        var s = sin.view(1, tokens, 1, pairs);
        var rotated = stack([real * c - imaginary * s, real * s + imaginary * c], -1).view(1, tokens, heads, headDim);
        return rotated.to(x.dtype).permute(0, 2, 1, 3).contiguous();
    }

    static KernelBandwidth Time(string kernel, long bytes, CudaDevice cuda, int iterations, Action body)
    {
        for (int i = 0; i < WarmupIterations; i++)
        {
            using var warm = NewDisposeScope();
            body();
        }
        using var start = new CudaEvent(cuda);
        using var end = new CudaEvent(cuda);
        start.Record();
        for (int i = 0; i < iterations; i++)
        {
            using var timed = NewDisposeScope();
            body();
        }
        end.Record();
        double milliseconds = CudaEvent.Elapsed(start, end) / iterations;
        const double BytesPerGigabyte = 1e9, MillisecondsPerSecond = 1e3;
        return new KernelBandwidth(kernel, milliseconds, bytes, bytes / BytesPerGigabyte / (milliseconds / MillisecondsPerSecond));
    }
}
