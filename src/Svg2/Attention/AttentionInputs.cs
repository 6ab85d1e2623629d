using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>Checks of the [B, H, S, D] tensors every attention method takes.</summary>
public static class AttentionInputs
{
    static readonly ScalarType[] SupportedTypes = [ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16];

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the problem unless q, k, v are [B, H, S, D]
    /// self-attention inputs of one supported dtype on one device.
    /// </summary>
    public static void Validate(Tensor q, Tensor k, Tensor v)
    {
        foreach (var (tensor, name) in new[] { (q, "q"), (k, "k"), (v, "v") })
        {
            if (tensor.dim() != 4)
                throw new ArgumentException($"{name} must be [B, H, S, D]; got [{string.Join(", ", tensor.shape)}].");
            if (!SupportedTypes.Contains(tensor.dtype))
                throw new ArgumentException($"{name} has dtype {tensor.dtype}; supported: float32, bfloat16, float16.");
            if (tensor.shape.Any(size => size == 0))
                throw new ArgumentException($"{name} has an empty dimension: [{string.Join(", ", tensor.shape)}].");
        }
        if (!q.shape.SequenceEqual(k.shape) || !q.shape.SequenceEqual(v.shape))
            throw new ArgumentException($"q, k, v must have one shape; got [{string.Join(", ", q.shape)}], [{string.Join(", ", k.shape)}], [{string.Join(", ", v.shape)}].");
        if (q.dtype != k.dtype || q.dtype != v.dtype)
            throw new ArgumentException($"q, k, v must share one dtype; got {q.dtype}, {k.dtype}, {v.dtype}.");
        if (!Algorithm.TensorPredicates.SameDevice(q, k) || !Algorithm.TensorPredicates.SameDevice(q, v))
            throw new ArgumentException($"q, k, v must be on one device; got {q.device}, {k.device}, {v.device}.");
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the first non-finite element (NaN or infinity) of a
    /// [B, H, S, D] tensor by batch element, head, row and column (other ranks by index). The operator checks
    /// only with <see cref="Configuration.Svg2Options.CheckFinite"/> (a pass and a host read per call); the
    /// command line checks every input file with this.
    /// </summary>
    public static void RequireFinite(Tensor x, string name)
    {
        using var scope = NewDisposeScope();
        var bad = x.isfinite().logical_not();
        if (!bad.any().item<bool>()) return;
        var first = bad.nonzero()[0].cpu().data<long>().ToArray();
        string where = first.Length == 4
            ? $"batch element {first[0]}, head {first[1]}, row {first[2]}, column {first[3]}"
            : $"index [{string.Join(", ", first)}]";
        long count = bad.sum().item<long>();
        throw new ArgumentException($"{name} holds {count} non-finite value(s) (NaN or infinity); the first at {where}.");
    }

    /// <summary>Views [B, H, S, D] as [B x H, S, D], contiguous.</summary>
    public static Tensor Flatten(Tensor x) => x.reshape(x.shape[0] * x.shape[1], x.shape[2], x.shape[3]).contiguous();
}
