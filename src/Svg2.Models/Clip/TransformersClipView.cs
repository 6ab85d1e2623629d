using System.Text.RegularExpressions;
using Svg2.Models.Checkpoints;
using static TorchSharp.torch;

namespace Svg2.Models.Clip;

/// <summary>
/// A transformers CLIPVisionModel checkpoint under labels that <see cref="Label"/> gives each encoder
/// parameter: the stored name, or for to_qkv the q, k and v names written with braces
/// (vision_model.encoder.layers.3.self_attn.{q,k,v}_proj.weight), which read as the three concatenated.
/// The class embedding [dim] reads as [1, 1, dim] and the position table [tokens, dim] as [1, tokens, dim].
/// Messages thus name the tensors of the file.
/// </summary>
sealed partial class TransformersClipView : ITensorSource
{
    const string Prefix = "vision_model.";
    const string Fused = "{q,k,v}";
    const string ClassEmbedding = "embeddings.class_embedding";
    const string PositionEmbedding = "embeddings.position_embedding.weight";
    readonly ITensorSource _inner;

    /// <summary>Views <paramref name="inner"/>, which the caller keeps owning.</summary>
    public TransformersClipView(ITensorSource inner) => _inner = inner;

    /// <summary>The label of an encoder parameter (see the class summary).</summary>
    /// <exception cref="ArgumentException">The name is not an encoder parameter.</exception>
    public static string Label(string name)
    {
        switch (name)
        {
            case "patch_embedding.weight": return Prefix + "embeddings.patch_embedding.weight";
            case "cls_embedding": return Prefix + ClassEmbedding;
            case "pos_embedding": return Prefix + PositionEmbedding;
            case "pre_norm.weight": return Prefix + "pre_layrnorm.weight";
            case "pre_norm.bias": return Prefix + "pre_layrnorm.bias";
        }
        var match = BlockParameter().Match(name);
        if (!match.Success) throw new ArgumentException($"'{name}' is not a CLIP vision encoder parameter.");
        string layer = Prefix + "encoder.layers." + match.Groups[1].Value + ".";
        string kind = match.Groups[3].Value;
        return layer + match.Groups[2].Value switch
        {
            "norm1" => "layer_norm1.",
            "norm2" => "layer_norm2.",
            "attn.to_qkv" => $"self_attn.{Fused}_proj.",
            "attn.proj" => "self_attn.out_proj.",
            "mlp.0" => "mlp.fc1.",
            _ => "mlp.fc2.",
        } + kind;
    }

    internal static string[] Parts(string label) => label.Contains(Fused, StringComparison.Ordinal)
        ? new[] { "q", "k", "v" }.Select(p => label.Replace(Fused, p, StringComparison.Ordinal)).ToArray()
        : [label];

    public IReadOnlyCollection<string> Names => _inner.Names;

    public bool Contains(string label) => Parts(label).Any(_inner.Contains);

    public TensorEntry Describe(string label)
    {
        var parts = Parts(label).Select(Part).ToArray();
        var first = parts[0];
        if (parts.Length > 1)
        {
            if (parts.Any(p => p.Shape.Length == 0 || p.Shape.Length != first.Shape.Length || !p.Shape.Skip(1).SequenceEqual(first.Shape.Skip(1)) || p.Type != first.Type))
                throw new CheckpointException($"CLIP vision encoder: the q, k and v projections differ in shape or type: " +
                    string.Join(", ", parts.Select(p => $"'{p.Name}' {p.Type} {p.ShapeText}")) + $" ({first.File}).");
            return first with { Name = label, Shape = [parts.Sum(p => p.Shape[0]), .. first.Shape.Skip(1)] };
        }
        if (label.EndsWith(ClassEmbedding, StringComparison.Ordinal) && first.Shape.Length == 1) return first with { Shape = [1, 1, first.Shape[0]] };
        if (label.EndsWith(PositionEmbedding, StringComparison.Ordinal) && first.Shape.Length == 2) return first with { Shape = [1, .. first.Shape] };
        return first;
    }

    public Tensor Read(string label)
    {
        var entry = Describe(label);
        var parts = Parts(label).Select(_inner.Read).ToArray();
        // A reshape is a view that keeps the storage alive after the part's own handle is freed.
        try { return parts.Length == 1 ? parts[0].reshape(entry.Shape) : cat(parts, 0); }
        finally { foreach (var part in parts) part.Dispose(); }
    }

    TensorEntry Part(string stored) => _inner.Contains(stored) ? _inner.Describe(stored)
        : throw new CheckpointException($"CLIP vision encoder: the checkpoint lacks '{stored}'.");

    /// <summary>Nothing to free: the viewed source belongs to the caller.</summary>
    public void Dispose() { }

    [GeneratedRegex(@"^transformer\.(\d+)\.(norm1|norm2|attn\.to_qkv|attn\.proj|mlp\.0|mlp\.2)\.(weight|bias)$")]
    private static partial Regex BlockParameter();
}
