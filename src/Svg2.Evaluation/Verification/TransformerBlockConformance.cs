using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// Checks of the fused transformer-block kernels (<see cref="TransformerBlockKernels"/>) against float32
/// TorchSharp references on fresh random inputs: two batch elements with distinct modulation, an
/// awkward sequence length, Wan's widths and a width that is no power of two, with and without each
/// optional input. Outputs are filled with NaN first, so an unwritten element shows as non-finite.
/// </summary>
public static class TransformerBlockConformance
{
    const int Batch = 2;
    // A sequence length that is a multiple of nothing the kernels tile by.
    const int Tokens = 1003;
    const double Eps = 1e-6;
    // Head dimension of the libraries used where the kernel does not depend on it.
    const int AnyHeadDim = 128;
    static readonly int[] RowWidths = [1536, 5120, 1288];
    static readonly (int Width, int HeadDim)[] HeadWidths = [(1536, 128), (5120, 128), (1536, 64)];

    /// <summary>Runs every check on <paramref name="device"/>; a failed check never stops the others.</summary>
    /// <param name="device">A CUDA device.</param>
    /// <param name="seed">Seed of the random inputs.</param>
    public static IReadOnlyList<ConformanceResult> RunAll(Device device, int seed)
    {
        var results = new List<ConformanceResult>();
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            var tag = dtype == ScalarType.BFloat16 ? "bf16" : "fp16";
            foreach (var width in RowWidths)
            {
                results.Add(Run($"modulated layer norm vs float32 ({tag} W{width})", () => ModulatedLayerNormMatches(device, dtype, width, seed)));
                results.Add(Run($"gated residual add vs float32 ({tag} W{width})", () => GatedResidualAddMatches(device, dtype, width, seed + 1)));
            }
            foreach (var (width, headDim) in HeadWidths)
                results.Add(Run($"RMS norm to heads with RoPE vs float32 ({tag} W{width} D{headDim})", () => RmsNormToHeadsMatches(device, dtype, width, headDim, seed + 2)));
        }
        return results;
    }

    static ConformanceResult Run(string check, Func<(bool Passed, string Detail)> body)
    {
        try
        {
            var (passed, detail) = body();
            return new ConformanceResult(check, passed, detail);
        }
        catch (Exception e)
        {
            return new ConformanceResult(check, false, $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// The modulated layer norm with and without weight/bias and shift/scale, and in place, against
    /// float32 <c>layer_norm</c> then <c>* (1 + scale) + shift</c>. Rows get distinct large means, so
    /// a one-pass variance would lose digits.
    /// </summary>
    public static (bool Passed, string Detail) ModulatedLayerNormMatches(Device device, ScalarType dtype, int width, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const double RowMeanSpread = 3, RowDeviation = 2, ParameterSpread = 0.1, ModulationSpread = 0.5;
        var library = KernelLibrary.For(CudaDevice.Get(device.index), dtype, AnyHeadDim);
        var x = (randn([Batch, Tokens, width], generator: generator) * RowDeviation + randn([Batch, Tokens, 1], generator: generator) * RowMeanSpread)
            .to(dtype).to(device);
        var weight = (1 + randn([width], generator: generator) * ParameterSpread).to(device);
        var bias = (randn([width], generator: generator) * ParameterSpread).to(device);
        var shift = (randn([Batch, width], generator: generator) * ModulationSpread).to(device);
        var scale = (randn([Batch, width], generator: generator) * ModulationSpread).to(device);

        var details = new List<string>();
        bool passed = true;
        foreach (var (affine, modulated, inPlace) in new[] { (false, false, false), (true, false, false), (false, true, false), (true, true, false), (true, true, true) })
        {
            using var variant = NewDisposeScope();
            var expected = nn.functional.layer_norm(x.to(ScalarType.Float32), [width], affine ? weight : null, affine ? bias : null, Eps);
            if (modulated) expected = expected * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1);
            var input = inPlace ? x.clone() : x;
            var output = inPlace ? input : full([Batch, Tokens, width], double.NaN, dtype, device);
            TransformerBlockKernels.EnqueueModulatedLayerNorm(library, input, output, affine ? weight : null, affine ? bias : null,
                modulated ? shift : null, modulated ? scale : null, Eps, IntPtr.Zero);
            var (ok, detail) = Compare(output, expected, dtype);
            passed &= ok;
            details.Add($"{(affine ? "affine" : "plain")}{(modulated ? " + modulation" : "")}{(inPlace ? " in place" : "")}: {detail}");
        }
        return (passed, string.Join("; ", details));
    }

    /// <summary>
    /// The in-place gated residual add with a per-batch gate and without one, against float32
    /// <c>x + y * gate</c>. Every update is at least 0.25 in magnitude, so an element left unwritten
    /// lies far outside the per-element bound.
    /// </summary>
    public static (bool Passed, string Detail) GatedResidualAddMatches(Device device, ScalarType dtype, int width, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const double SmallestFactor = 0.5;
        var library = KernelLibrary.For(CudaDevice.Get(device.index), dtype, AnyHeadDim);
        Tensor AwayFromZero(long[] shape) => randn(shape, generator: generator).sign() * (SmallestFactor + rand(shape, generator: generator));
        var x = randn([Batch, Tokens, width], generator: generator).to(dtype).to(device);
        var y = AwayFromZero([Batch, Tokens, width]).to(dtype).to(device);
        var gate = AwayFromZero([Batch, width]).to(device);

        var details = new List<string>();
        bool passed = true;
        foreach (var gated in new[] { true, false })
        {
            using var variant = NewDisposeScope();
            var expected = x.to(ScalarType.Float32) + y.to(ScalarType.Float32) * (gated ? gate.unsqueeze(1) : ones(1, device: device));
            var updated = x.clone();
            TransformerBlockKernels.EnqueueGatedResidualAdd(library, updated, y, gated ? gate : null, IntPtr.Zero);
            var (ok, detail) = Compare(updated, expected, dtype);
            passed &= ok;
            details.Add($"{(gated ? "gated" : "no gate")}: {detail}");
        }
        return (passed, string.Join("; ", details));
    }

    /// <summary>
    /// RMS norm over the full row with a float32 weight, with and without the rotation of interleaved
    /// pairs by random angles per token, written head-major, against the float32 chain
    /// norm -> view [B, S, H, D] -> rotate -> permute to [B, H, S, D].
    /// </summary>
    public static (bool Passed, string Detail) RmsNormToHeadsMatches(Device device, ScalarType dtype, int width, int headDim, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const double SmallestRowScale = 0.5, RowScaleSpread = 3, WeightSpread = 0.2;
        var library = KernelLibrary.For(CudaDevice.Get(device.index), dtype, headDim);
        int heads = width / headDim, pairs = headDim / 2;
        var x = (randn([Batch, Tokens, width], generator: generator) * (SmallestRowScale + rand([Batch, Tokens, 1], generator: generator) * RowScaleSpread))
            .to(dtype).to(device);
        var weight = (1 + randn([width], generator: generator) * WeightSpread).to(device);
        var angles = (rand([Tokens, pairs], generator: generator) * (2 * Math.PI)).to(device);
        var cos = angles.cos().contiguous();
        var sin = angles.sin().contiguous();

        var details = new List<string>();
        bool passed = true;
        foreach (var rotated in new[] { true, false })
        {
            using var variant = NewDisposeScope();
            var xf = x.to(ScalarType.Float32);
            var normed = (xf * rsqrt(xf.pow(2).mean([-1], keepdim: true) + Eps) * weight).view(Batch, Tokens, heads, headDim);
            if (rotated)
            {
                var pairsView = normed.view(Batch, Tokens, heads, pairs, 2);
                var real = pairsView.select(-1, 0);
                var imaginary = pairsView.select(-1, 1);
                var c = cos.view(1, Tokens, 1, pairs);
                var s = sin.view(1, Tokens, 1, pairs);
                normed = stack([real * c - imaginary * s, real * s + imaginary * c], -1).reshape(Batch, Tokens, heads, headDim);
            }
            var expected = normed.permute(0, 2, 1, 3);
            var output = full([Batch, heads, Tokens, headDim], double.NaN, dtype, device);
            TransformerBlockKernels.EnqueueRmsNormToHeads(library, x, weight, rotated ? cos : null, rotated ? sin : null, output, Eps, IntPtr.Zero);
            var (ok, detail) = Compare(output, expected, dtype);
            passed &= ok;
            details.Add($"{(rotated ? "with RoPE" : "no RoPE")}: {detail}");
        }
        return (passed, string.Join("; ", details));
    }

    /// <summary>
    /// Every element finite (so written over the NaN fill), relative Frobenius error within
    /// <see cref="CudaConformance.HalfPrecisionTolerance"/>, and no element further than two units in
    /// the last place of the element type (plus a small absolute slack for values near zero, where
    /// float32 cancellation dominates) from the float32 reference.
    /// </summary>
    static (bool Passed, string Detail) Compare(Tensor actual, Tensor expected, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        // Spacing of the element type's significand: 2^-7 (bf16), 2^-10 (fp16).
        double unit = dtype == ScalarType.BFloat16 ? 1.0 / 128 : 1.0 / 1024;
        const double UnitsInLastPlace = 2, AbsoluteSlack = 1e-3;
        var a = actual.to(ScalarType.Float32);
        long nonFinite = a.isfinite().logical_not().sum().item<long>();
        double error = ReferenceComputations.RelativeError(a, expected);
        var bound = expected.abs() * (UnitsInLastPlace * unit) + AbsoluteSlack;
        long outside = ((a - expected).abs() > bound).sum().item<long>();
        bool passed = nonFinite == 0 && outside == 0 && error <= CudaConformance.HalfPrecisionTolerance;
        return (passed, $"rel. error {error:E2}, {outside} elements beyond 2 ulp, {nonFinite} unwritten or non-finite");
    }
}
