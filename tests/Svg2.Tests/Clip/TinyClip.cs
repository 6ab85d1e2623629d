using Svg2.Models.Clip;
using static TorchSharp.torch;

namespace Svg2.Tests.Clip;

/// <summary>A small CLIP vision tower of the Wan architecture, its random weights under both namings, and a float64 reference.</summary>
static class TinyClip
{
    /// <summary>28-pixel images of 7-pixel patches (17 tokens), width 32 in 2 heads, 3 stored blocks (2 used).</summary>
    public static ClipVisionConfig Config => new() { ImageSize = 28, PatchSize = 7, Dim = 32, MlpDim = 48, Heads = 2, Layers = 3 };

    /// <summary>Every tensor of the official state dict (vision tower under visual., with its last block, norm and head, and a stand-in text tower).</summary>
    public static Dictionary<string, Tensor> OfficialWeights(ClipVisionConfig config, int seed)
    {
        var generator = new Generator((ulong)seed);
        long d = config.Dim, m = config.MlpDim;
        Tensor Random(long[] shape, double scale) => randn(shape, generator: generator) * scale;
        var weights = new Dictionary<string, Tensor>
        {
            ["visual.patch_embedding.weight"] = Random([d, 3, config.PatchSize, config.PatchSize], 1.0 / Math.Sqrt(3 * config.PatchSize * config.PatchSize)),
            ["visual.cls_embedding"] = Random([1, 1, d], 0.5),
            ["visual.pos_embedding"] = Random([1, config.Tokens, d], 0.5),
            ["visual.pre_norm.weight"] = 1 + Random([d], 0.1),
            ["visual.pre_norm.bias"] = Random([d], 0.1),
            ["visual.post_norm.weight"] = 1 + Random([d], 0.1),
            ["visual.post_norm.bias"] = Random([d], 0.1),
            ["visual.head"] = Random([d, 16], 0.1),
            ["textual.token_embedding.weight"] = Random([10, 8], 1),
            ["log_scale"] = Random([], 1),
        };
        for (int i = 0; i < config.Layers; i++)
        {
            string block = $"visual.transformer.{i}.";
            foreach (var norm in new[] { "norm1", "norm2" })
            {
                weights[block + norm + ".weight"] = 1 + Random([d], 0.1);
                weights[block + norm + ".bias"] = Random([d], 0.1);
            }
            weights[block + "attn.to_qkv.weight"] = Random([3 * d, d], 1.0 / Math.Sqrt(d));
            weights[block + "attn.to_qkv.bias"] = Random([3 * d], 0.1);
            weights[block + "attn.proj.weight"] = Random([d, d], 1.0 / Math.Sqrt(d));
            weights[block + "attn.proj.bias"] = Random([d], 0.1);
            weights[block + "mlp.0.weight"] = Random([m, d], 1.0 / Math.Sqrt(d));
            weights[block + "mlp.0.bias"] = Random([m], 0.1);
            weights[block + "mlp.2.weight"] = Random([d, m], 1.0 / Math.Sqrt(m));
            weights[block + "mlp.2.bias"] = Random([d], 0.1);
        }
        return weights;
    }

    /// <summary>The same weights under transformers' CLIPVisionModelWithProjection names.</summary>
    public static Dictionary<string, Tensor> TransformersWeights(Dictionary<string, Tensor> official, ClipVisionConfig config)
    {
        const string p = "vision_model.";
        long d = config.Dim;
        var weights = new Dictionary<string, Tensor>
        {
            [p + "embeddings.patch_embedding.weight"] = official["visual.patch_embedding.weight"],
            [p + "embeddings.class_embedding"] = official["visual.cls_embedding"].reshape(d),
            [p + "embeddings.position_embedding.weight"] = official["visual.pos_embedding"].reshape(config.Tokens, d),
            [p + "embeddings.position_ids"] = arange(config.Tokens).unsqueeze(0),
            [p + "pre_layrnorm.weight"] = official["visual.pre_norm.weight"],
            [p + "pre_layrnorm.bias"] = official["visual.pre_norm.bias"],
            [p + "post_layernorm.weight"] = official["visual.post_norm.weight"],
            [p + "post_layernorm.bias"] = official["visual.post_norm.bias"],
            ["visual_projection.weight"] = official["visual.head"].t().contiguous(),
        };
        for (int i = 0; i < config.Layers; i++)
        {
            string from = $"visual.transformer.{i}.", to = $"{p}encoder.layers.{i}.";
            foreach (var kind in new[] { "weight", "bias" })
            {
                weights[to + "layer_norm1." + kind] = official[from + "norm1." + kind];
                weights[to + "layer_norm2." + kind] = official[from + "norm2." + kind];
                var qkv = official[from + "attn.to_qkv." + kind].chunk(3, 0);
                weights[to + "self_attn.q_proj." + kind] = qkv[0].contiguous();
                weights[to + "self_attn.k_proj." + kind] = qkv[1].contiguous();
                weights[to + "self_attn.v_proj." + kind] = qkv[2].contiguous();
                weights[to + "self_attn.out_proj." + kind] = official[from + "attn.proj." + kind];
                weights[to + "mlp.fc1." + kind] = official[from + "mlp.0." + kind];
                weights[to + "mlp.fc2." + kind] = official[from + "mlp.2." + kind];
            }
        }
        return weights;
    }

    /// <summary>
    /// The public forward written out in float64 from the official weights: patch convolution, class token,
    /// positions, pre-norm, then all blocks but the last with explicit softmax attention and exact GELU.
    /// </summary>
    public static Tensor Reference64(Dictionary<string, Tensor> w, ClipVisionConfig config, Tensor pixels)
    {
        using var scope = NewDisposeScope();
        Tensor W(string name) => w["visual." + name].to(ScalarType.Float64);
        Tensor Norm(Tensor x, string name)
        {
            var mean = x.mean([-1], keepdim: true);
            var variance = (x - mean).pow(2).mean([-1], keepdim: true);
            return (x - mean) / (variance + config.Eps).sqrt() * W(name + ".weight") + W(name + ".bias");
        }
        Tensor Linear(Tensor x, string name) => x.matmul(W(name + ".weight").t()) + W(name + ".bias");

        long batch = pixels.shape[0], d = config.Dim, heads = config.Heads, hd = d / heads;
        var patches = nn.functional.conv2d(pixels.to(ScalarType.Float64), W("patch_embedding.weight"), strides: [config.PatchSize, config.PatchSize]);
        var x = cat([W("cls_embedding").expand(batch, 1, d), patches.flatten(2).transpose(1, 2)], 1) + W("pos_embedding");
        x = Norm(x, "pre_norm");
        for (int i = 0; i < config.Layers - 1; i++)
        {
            string b = $"transformer.{i}.";
            var qkv = Linear(Norm(x, b + "norm1"), b + "attn.to_qkv").view(batch, -1, 3, heads, hd);
            var q = qkv.select(2, 0).transpose(1, 2);
            var k = qkv.select(2, 1).transpose(1, 2);
            var v = qkv.select(2, 2).transpose(1, 2);
            var attention = (q.matmul(k.transpose(-1, -2)) / Math.Sqrt(hd)).softmax(-1).matmul(v).transpose(1, 2).reshape(batch, -1, d);
            x = x + Linear(attention, b + "attn.proj");
            var hidden = Linear(Norm(x, b + "norm2"), b + "mlp.0");
            hidden = hidden * 0.5 * (1 + (hidden / Math.Sqrt(2)).erf());
            x = x + Linear(hidden, b + "mlp.2");
        }
        return x.MoveToOuterDisposeScope();
    }
}
