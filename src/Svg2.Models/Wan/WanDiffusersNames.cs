using Svg2.Models.Checkpoints;

namespace Svg2.Models.Wan;

/// <summary>
/// The tensor names of diffusers' WanTransformer3DModel and the official Wan 2.1 names that
/// <see cref="WanModel"/> uses. For Wan 2.1 the two layouts hold the same tensors with the same shapes
/// and values; only names differ (no tensor is fused, split or transposed), so the mapping is a
/// bijection of module paths.
/// </summary>
/// <remarks>
/// The pairs follow diffusers' transformer_wan.py module tree: the time, text and image embedders live
/// under condition_embedder; attention layers are attn1 (self) and attn2 (cross) with to_q, to_k, to_v,
/// to_out.0 and, for image to video, add_k_proj, add_v_proj and norm_added_k; the affine cross-attention
/// norm, norm3 in the official code, is norm2; the modulation tables are scale_shift_table; the head's
/// linear layer is proj_out. The patch embedding keeps its name.
/// </remarks>
public static class WanDiffusersNames
{
    static readonly (string Official, string Diffusers)[] TopLevel =
    [
        ("text_embedding.0", "condition_embedder.text_embedder.linear_1"),
        ("text_embedding.2", "condition_embedder.text_embedder.linear_2"),
        ("time_embedding.0", "condition_embedder.time_embedder.linear_1"),
        ("time_embedding.2", "condition_embedder.time_embedder.linear_2"),
        ("time_projection.1", "condition_embedder.time_proj"),
        ("head.head", "proj_out"),
        ("head.modulation", "scale_shift_table"),
        ("img_emb.proj.0", "condition_embedder.image_embedder.norm1"),
        ("img_emb.proj.1", "condition_embedder.image_embedder.ff.net.0.proj"),
        ("img_emb.proj.3", "condition_embedder.image_embedder.ff.net.2"),
        ("img_emb.proj.4", "condition_embedder.image_embedder.norm2"),
    ];

    static readonly (string Official, string Diffusers)[] InBlock =
    [
        ("modulation", "scale_shift_table"),
        ("self_attn.q", "attn1.to_q"),
        ("self_attn.k", "attn1.to_k"),
        ("self_attn.v", "attn1.to_v"),
        ("self_attn.o", "attn1.to_out.0"),
        ("self_attn.norm_q", "attn1.norm_q"),
        ("self_attn.norm_k", "attn1.norm_k"),
        ("cross_attn.q", "attn2.to_q"),
        ("cross_attn.k", "attn2.to_k"),
        ("cross_attn.v", "attn2.to_v"),
        ("cross_attn.o", "attn2.to_out.0"),
        ("cross_attn.norm_q", "attn2.norm_q"),
        ("cross_attn.norm_k", "attn2.norm_k"),
        ("cross_attn.k_img", "attn2.add_k_proj"),
        ("cross_attn.v_img", "attn2.add_v_proj"),
        ("cross_attn.norm_k_img", "attn2.norm_added_k"),
        ("norm3", "norm2"),
        ("ffn.0", "ffn.net.0.proj"),
        ("ffn.2", "ffn.net.2"),
    ];

    static readonly Dictionary<string, string> TopToDiffusers = TopLevel.ToDictionary(p => p.Official, p => p.Diffusers);
    static readonly Dictionary<string, string> TopToOfficial = TopLevel.ToDictionary(p => p.Diffusers, p => p.Official);
    static readonly Dictionary<string, string> BlockToDiffusers = InBlock.ToDictionary(p => p.Official, p => p.Diffusers);
    static readonly Dictionary<string, string> BlockToOfficial = InBlock.ToDictionary(p => p.Diffusers, p => p.Official);

    /// <summary>The diffusers name of an official tensor name; names without a counterpart are returned unchanged.</summary>
    public static string FromOfficial(string name) => Map(name, TopToDiffusers, BlockToDiffusers);

    /// <summary>The official name of a diffusers tensor name; names without a counterpart are returned unchanged.</summary>
    public static string ToOfficial(string name) => Map(name, TopToOfficial, BlockToOfficial);

    /// <summary>True when the source names its tensors as diffusers does (it has a condition_embedder).</summary>
    public static bool AreUsedBy(ITensorSource source) =>
        source.Names.Any(n => n.StartsWith("condition_embedder.", StringComparison.Ordinal));

    static string Map(string name, Dictionary<string, string> topLevel, Dictionary<string, string> inBlock)
    {
        const string blocks = "blocks.";
        if (name.StartsWith(blocks, StringComparison.Ordinal))
        {
            int dot = name.IndexOf('.', blocks.Length);
            if (dot > blocks.Length && name.AsSpan(blocks.Length, dot - blocks.Length).IndexOfAnyExceptInRange('0', '9') < 0)
                return name[..(dot + 1)] + MapPath(name[(dot + 1)..], inBlock);
        }
        return MapPath(name, topLevel);
    }

    // A parameter is a module path and a leaf (weight, bias); modulation tables are parameters of their own.
    static string MapPath(string path, Dictionary<string, string> table)
    {
        if (table.TryGetValue(path, out var whole)) return whole;
        int dot = path.LastIndexOf('.');
        if (dot > 0 && table.TryGetValue(path[..dot], out var module)) return module + path[dot..];
        return path;
    }
}
