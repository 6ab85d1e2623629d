using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Checkpoints;

/// <summary>
/// Copies a module's parameters (and persistent buffers) from a tensor source, converting floating-point
/// types to the parameter's, after checking that every name exists with the same shape.
/// </summary>
public static class ParameterLoader
{
    /// <summary>
    /// Loads every parameter of <paramref name="module"/>. <paramref name="sourceName"/> maps a parameter
    /// name to its name in the source (identity when null). Unless <paramref name="allowUnused"/>, a source
    /// tensor that no parameter takes is an error too (a wrong variant or depth).
    /// </summary>
    /// <param name="module">The module whose parameters are overwritten.</param>
    /// <param name="source">The stored tensors.</param>
    /// <param name="component">The component's name for messages ("umT5 encoder", "Wan VAE", ...).</param>
    /// <param name="sourceName">Parameter name to source name.</param>
    /// <param name="allowUnused">Accept source tensors that no parameter takes.</param>
    /// <exception cref="CheckpointException">A tensor is missing, mis-shaped, not floating-point, or unused.</exception>
    public static void Load(nn.Module module, ITensorSource source, string component,
        Func<string, string>? sourceName = null, bool allowUnused = false)
    {
        sourceName ??= name => name;
        var targets = module.named_parameters().Select(p => (p.name, tensor: (Tensor)p.parameter))
            .Concat(module.named_buffers().Select(b => (b.name, tensor: b.buffer)))
            .ToList();
        var expected = new Dictionary<string, string>();
        foreach (var (name, _) in targets) expected[sourceName(name)] = name;

        if (!allowUnused)
            foreach (var name in source.Names)
                if (!expected.ContainsKey(name))
                    throw new CheckpointException($"{component}: the checkpoint's tensor '{name}' has no place in the model (wrong variant or depth?).");

        using var noGrad = no_grad();
        foreach (var (name, target) in targets)
        {
            var stored = sourceName(name);
            if (!source.Contains(stored))
                throw new CheckpointException($"{component}: the checkpoint lacks '{stored}' (expected shape [{string.Join(", ", target.shape)}]).");
            var entry = source.Describe(stored);
            if (!entry.Shape.SequenceEqual(target.shape))
                throw new CheckpointException($"{component}: tensor '{stored}' has shape {entry.ShapeText}; the model expects [{string.Join(", ", target.shape)}] ({entry.File}).");
            if (target.is_floating_point() && !IsFloating(entry.Type))
                throw new CheckpointException($"{component}: tensor '{stored}' is {entry.Type}; expected a floating-point type ({entry.File}).");
            using var value = source.Read(stored);
            target.copy_(value);
        }
    }

    static bool IsFloating(ScalarType type) =>
        type is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64;
}
