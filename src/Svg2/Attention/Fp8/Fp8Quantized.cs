using static TorchSharp.torch;

namespace Svg2.Attention.Fp8;

/// <summary>
/// A [G, N, D] tensor in FP8 with its scales: element [g, n, d] stands for <c>Values[g, n, d] x Scales[g, n, d]</c>,
/// <see cref="Scales"/> broadcasting as [G, N, 1] (a scale per row tile, repeated over its rows) or [G, 1, D] (per channel).
/// </summary>
/// <param name="Values">[G, N, D] Float8_e4m3fn (<see cref="E4M3.Type"/>).</param>
/// <param name="Scales">Float32 dequantisation scales, [G, N, 1] or [G, 1, D].</param>
public sealed record Fp8Quantized(Tensor Values, Tensor Scales) : IDisposable
{
    /// <summary>The FP8 values as float32 (exact), without the scales.</summary>
    public Tensor DecodedValues() => E4M3.Decode(Values);

    /// <summary>The tensor the FP8 values and scales stand for, in float32.</summary>
    public Tensor Dequantize()
    {
        using var decoded = DecodedValues();
        return decoded * Scales;
    }

    /// <summary>Moves both tensors to the enclosing dispose scope's parent.</summary>
    public Fp8Quantized MoveToOuterDisposeScope()
    {
        Values.MoveToOuterDisposeScope();
        Scales.MoveToOuterDisposeScope();
        return this;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Values.Dispose();
        Scales.Dispose();
    }
}
