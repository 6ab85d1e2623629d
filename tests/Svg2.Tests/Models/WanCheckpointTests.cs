using System.Text.Json;
using Svg2.IO;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Tests.Models;

public sealed class WanCheckpointTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-wan-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    static Dictionary<string, Tensor> Parameters(WanModel model) => model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);

    [Theory]
    [InlineData(WanModelType.TextToVideo)]
    [InlineData(WanModelType.ImageToVideo)]
    public void RoundTripRestoresEveryParameterAndTheOutput(WanModelType type)
    {
        var config = TinyWan.Config(type);
        using var source = TinyWan.Model(1, config);
        using var target = TinyWan.Model(2, config);
        string path = Path.Combine(_directory, WanCheckpoint.SingleFileName);
        WanCheckpoint.Save(source, path);
        WanCheckpoint.Load(target, _directory);

        var expected = Parameters(source);
        foreach (var (name, parameter) in Parameters(target))
            Assert.True(parameter.eq(expected[name]).all().item<bool>(), $"{name} differs");
        var inputs = TinyWan.Inputs(5, config);
        using var a = source.Forward(inputs);
        using var b = target.Forward(inputs);
        Assert.True(a.eq(b).all().item<bool>());
    }

    [Fact]
    public void UsesOfficialNamesAndShapes()
    {
        using var model = TinyWan.Model(1, TinyWan.Config(WanModelType.ImageToVideo, layers: 1));
        var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        // Names and shapes of the public WanModel (dim 24, ffn 40, freq 16, text 20, in 9, out 4, CLIP 12).
        var expected = new Dictionary<string, long[]>
        {
            ["patch_embedding.weight"] = [24, 9, 1, 2, 2], ["patch_embedding.bias"] = [24],
            ["text_embedding.0.weight"] = [24, 20], ["text_embedding.2.weight"] = [24, 24],
            ["time_embedding.0.weight"] = [24, 16], ["time_embedding.2.bias"] = [24],
            ["time_projection.1.weight"] = [144, 24], ["time_projection.1.bias"] = [144],
            ["blocks.0.modulation"] = [1, 6, 24],
            ["blocks.0.self_attn.q.weight"] = [24, 24], ["blocks.0.self_attn.o.bias"] = [24],
            ["blocks.0.self_attn.norm_q.weight"] = [24], ["blocks.0.self_attn.norm_k.weight"] = [24],
            ["blocks.0.norm3.weight"] = [24], ["blocks.0.norm3.bias"] = [24],
            ["blocks.0.cross_attn.k.weight"] = [24, 24], ["blocks.0.cross_attn.k_img.weight"] = [24, 24],
            ["blocks.0.cross_attn.v_img.bias"] = [24], ["blocks.0.cross_attn.norm_k_img.weight"] = [24],
            ["blocks.0.ffn.0.weight"] = [40, 24], ["blocks.0.ffn.2.weight"] = [24, 40],
            ["head.modulation"] = [1, 2, 24], ["head.head.weight"] = [16, 24], ["head.head.bias"] = [16],
            ["img_emb.proj.0.weight"] = [12], ["img_emb.proj.1.weight"] = [12, 12],
            ["img_emb.proj.3.weight"] = [24, 12], ["img_emb.proj.4.bias"] = [24],
        };
        foreach (var (name, shape) in expected)
        {
            Assert.True(shapes.ContainsKey(name), $"missing {name}");
            Assert.Equal(shape, shapes[name]);
        }
        // patch 2, text 4, time 4, projection 2; block: modulation 1, self-attention 8 + 2 norms,
        // norm3 2, cross-attention 8 + 2 norms + 4 image projections + 1 image norm, ffn 4; head 3; img_emb 8.
        Assert.Equal(2 + 4 + 4 + 2 + (1 + 10 + 2 + 15 + 4) + 3 + 8, shapes.Count);
    }

    [Fact]
    public void LoadsShardsThroughTheIndexAndConvertsBf16()
    {
        var config = TinyWan.Config();
        using var source = TinyWan.Model(3, config, ScalarType.BFloat16);
        var all = Parameters(source).ToList();
        var first = all.Take(all.Count / 2).ToList();
        var second = all.Skip(all.Count / 2).ToList();
        SafeTensorsWriter.Write(Path.Combine(_directory, "part-00001.safetensors"), first);
        SafeTensorsWriter.Write(Path.Combine(_directory, "part-00002.safetensors"), second);
        var map = first.ToDictionary(p => p.Key, _ => "part-00001.safetensors");
        foreach (var (name, _) in second) map[name] = "part-00002.safetensors";
        File.WriteAllText(Path.Combine(_directory, WanCheckpoint.IndexFileName),
            JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));

        using var target = TinyWan.Model(4, config);
        WanCheckpoint.Load(target, _directory);
        var expected = Parameters(source);
        foreach (var (name, parameter) in Parameters(target))
        {
            Assert.Equal(ScalarType.Float32, parameter.dtype);
            Assert.True(parameter.eq(expected[name].to(ScalarType.Float32)).all().item<bool>(), $"{name} differs");
        }
    }

    [Fact]
    public void NamesAMissingTensor()
    {
        using var model = TinyWan.Model(1);
        var parameters = Parameters(model).Where(p => p.Key != "blocks.1.ffn.2.bias");
        string path = Path.Combine(_directory, "partial.safetensors");
        SafeTensorsWriter.Write(path, parameters);
        var error = Assert.Throws<WanCheckpointException>(() => WanCheckpoint.Load(model, path));
        Assert.Contains("lacks 'blocks.1.ffn.2.bias'", error.Message);
        Assert.Contains("[24]", error.Message);
    }

    [Fact]
    public void NamesAMisShapedTensor()
    {
        using var model = TinyWan.Model(1);
        var parameters = Parameters(model);
        parameters["blocks.0.self_attn.k.weight"] = zeros(24, 12);
        string path = Path.Combine(_directory, "misshaped.safetensors");
        SafeTensorsWriter.Write(path, parameters);
        var error = Assert.Throws<WanCheckpointException>(() => WanCheckpoint.Load(model, path));
        Assert.Contains("'blocks.0.self_attn.k.weight' has shape [24, 12]; the model expects [24, 24]", error.Message);
    }

    [Fact]
    public void RejectsACheckpointOfADeeperModel()
    {
        using var deep = TinyWan.Model(1, TinyWan.Config(layers: 3));
        string path = Path.Combine(_directory, "deep.safetensors");
        WanCheckpoint.Save(deep, path);
        using var shallow = TinyWan.Model(1);
        var error = Assert.Throws<WanCheckpointException>(() => WanCheckpoint.Load(shallow, path));
        Assert.Contains("blocks.2.", error.Message);
    }
}
