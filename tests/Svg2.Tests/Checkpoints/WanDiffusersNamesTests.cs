using Svg2.Models.Wan;
using Svg2.Tests.Models;

namespace Svg2.Tests.Checkpoints;

public sealed class WanDiffusersNamesTests
{
    [Fact]
    public void MapsEveryParameterOntoTheDiffusersModuleTree()
    {
        using var model = TinyWan.Model(1, TinyWan.Config(WanModelType.ImageToVideo, layers: 1));
        var mapped = model.named_parameters().Select(p => WanDiffusersNames.FromOfficial(p.name)).ToHashSet();
        // Parameter names of diffusers' WanTransformer3DModel (transformer_wan.py) for an image-to-video model of one block.
        string[] linears =
        [
            "condition_embedder.time_embedder.linear_1", "condition_embedder.time_embedder.linear_2",
            "condition_embedder.time_proj", "condition_embedder.text_embedder.linear_1", "condition_embedder.text_embedder.linear_2",
            "condition_embedder.image_embedder.norm1", "condition_embedder.image_embedder.ff.net.0.proj",
            "condition_embedder.image_embedder.ff.net.2", "condition_embedder.image_embedder.norm2",
            "patch_embedding", "proj_out",
            "blocks.0.attn1.to_q", "blocks.0.attn1.to_k", "blocks.0.attn1.to_v", "blocks.0.attn1.to_out.0",
            "blocks.0.attn2.to_q", "blocks.0.attn2.to_k", "blocks.0.attn2.to_v", "blocks.0.attn2.to_out.0",
            "blocks.0.attn2.add_k_proj", "blocks.0.attn2.add_v_proj", "blocks.0.norm2",
            "blocks.0.ffn.net.0.proj", "blocks.0.ffn.net.2",
        ];
        var expected = linears.SelectMany(m => new[] { m + ".weight", m + ".bias" }).Concat(
        [
            "scale_shift_table", "blocks.0.scale_shift_table",
            "blocks.0.attn1.norm_q.weight", "blocks.0.attn1.norm_k.weight",
            "blocks.0.attn2.norm_q.weight", "blocks.0.attn2.norm_k.weight", "blocks.0.attn2.norm_added_k.weight",
        ]).ToHashSet();
        Assert.Equal(expected.Order(), mapped.Order());
    }

    [Theory]
    [InlineData("blocks.12.cross_attn.o.bias", "blocks.12.attn2.to_out.0.bias")]
    [InlineData("blocks.39.modulation", "blocks.39.scale_shift_table")]
    [InlineData("blocks.7.cross_attn.k_img.weight", "blocks.7.attn2.add_k_proj.weight")]
    [InlineData("blocks.7.cross_attn.k.weight", "blocks.7.attn2.to_k.weight")]
    [InlineData("blocks.3.norm3.weight", "blocks.3.norm2.weight")]
    [InlineData("head.modulation", "scale_shift_table")]
    [InlineData("head.head.weight", "proj_out.weight")]
    [InlineData("patch_embedding.bias", "patch_embedding.bias")]
    public void MapsBothWays(string official, string diffusers)
    {
        Assert.Equal(diffusers, WanDiffusersNames.FromOfficial(official));
        Assert.Equal(official, WanDiffusersNames.ToOfficial(diffusers));
    }

    [Fact]
    public void IsABijectionOverTheModelsNames()
    {
        using var model = TinyWan.Model(1, TinyWan.Config(WanModelType.ImageToVideo, layers: 12));
        var names = model.named_parameters().Select(p => p.name).ToList();
        var mapped = names.Select(WanDiffusersNames.FromOfficial).ToList();
        Assert.Equal(names.Count, mapped.Distinct().Count());
        Assert.Equal(names, mapped.Select(WanDiffusersNames.ToOfficial));
        Assert.DoesNotContain(names.Intersect(mapped), n => !n.StartsWith("patch_embedding."));
    }
}
