using static TorchSharp.torch;

namespace Svg2.Models.Kernels;

/// <summary>Argument checks every <see cref="IWanBlockKernels"/> implementation shares, so both name the same problems.</summary>
static class WanBlockKernelChecks
{
    static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";

    public static void RequireActivations(Tensor x, string name)
    {
        if (x.dim() != 3) throw new ArgumentException($"{name} must be [B, S, W]; got {Shape(x)}.", name);
    }

    public static void RequirePerBatch(Tensor? vector, Tensor x, string name)
    {
        if (vector is null) return;
        if (vector.dim() != 2 || vector.shape[0] != x.shape[0] || vector.shape[1] != x.shape[2])
            throw new ArgumentException($"{name} must be [{x.shape[0]}, {x.shape[2]}] (one vector per batch element); got {Shape(vector)}.", name);
        if (vector.dtype != ScalarType.Float32)
            throw new ArgumentException($"{name} must be float32; got {vector.dtype}.", name);
    }

    public static void RequireModulation(Tensor x, Tensor? shift, Tensor? scale)
    {
        RequireActivations(x, nameof(x));
        if ((shift is null) != (scale is null))
            throw new ArgumentException("Modulation needs both shift and scale, or neither.", shift is null ? nameof(shift) : nameof(scale));
        RequirePerBatch(shift, x, nameof(shift));
        RequirePerBatch(scale, x, nameof(scale));
    }

    public static void RequireResidual(Tensor x, Tensor y, Tensor? gate)
    {
        RequireActivations(x, nameof(x));
        if (!x.shape.SequenceEqual(y.shape) || x.dtype != y.dtype)
            throw new ArgumentException($"The residual update must match the stream: x {Shape(x)} {x.dtype}, y {Shape(y)} {y.dtype}.", nameof(y));
        RequirePerBatch(gate, x, nameof(gate));
    }

    public static void RequireRmsNorm(Tensor x, Tensor weight, int heads, Tensor? cos, Tensor? sin)
    {
        RequireActivations(x, nameof(x));
        long width = x.shape[2];
        if (heads < 1 || width % heads != 0)
            throw new ArgumentException($"Width {width} does not split into {heads} heads.", nameof(heads));
        if (weight.dim() != 1 || weight.shape[0] != width)
            throw new ArgumentException($"weight must be [{width}]; got {Shape(weight)}.", nameof(weight));
        if ((cos is null) != (sin is null))
            throw new ArgumentException("The rotary embedding needs both cos and sin, or neither.", cos is null ? nameof(cos) : nameof(sin));
        long pairs = width / heads / 2;
        foreach (var (table, name) in new[] { (cos, nameof(cos)), (sin, nameof(sin)) })
            if (table is not null && (table.dim() != 2 || table.shape[0] != x.shape[1] || table.shape[1] != pairs || table.dtype != ScalarType.Float32))
                throw new ArgumentException($"{name} must be [{x.shape[1]}, {pairs}] float32 (tokens, head width / 2); got {Shape(table)} {table.dtype}.", name);
    }
}
