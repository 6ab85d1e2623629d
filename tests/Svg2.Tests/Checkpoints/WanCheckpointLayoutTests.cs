using Svg2.IO;
using Svg2.Models.Checkpoints;
using Svg2.Models.Wan;
using Svg2.Tests.Models;
using static TorchSharp.torch;

namespace Svg2.Tests.Checkpoints;

/// <summary>Loading the transformer from diffusers' layout: the same weights as the official layout, bit for bit.</summary>
public sealed class WanCheckpointLayoutTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-wan-layout-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    static void AssertSameModel(WanModel expected, WanModel actual)
    {
        var want = expected.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in actual.named_parameters())
            Assert.True(parameter.eq(want[name]).all().item<bool>(), $"{name} differs");
        var inputs = TinyWan.Inputs(9, expected.Config);
        using var a = expected.Forward(inputs);
        using var b = actual.Forward(inputs);
        Assert.True(a.eq(b).all().item<bool>());
    }

    [Theory]
    [InlineData(WanModelType.TextToVideo)]
    [InlineData(WanModelType.ImageToVideo)]
    public void LoadsADiffusersTransformerFolder(WanModelType type)
    {
        var config = TinyWan.Config(type);
        using var source = TinyWan.Model(11, config);
        string transformer = Path.Combine(_directory, "transformer");
        Directory.CreateDirectory(transformer);
        WanFolders.SaveDiffusers(source, Path.Combine(transformer, WanCheckpoint.SingleFileName));
        using var target = TinyWan.Model(12, config);
        WanCheckpoint.Load(target, transformer);
        AssertSameModel(source, target);
    }

    [Fact]
    public void LoadsShardedDiffusersWeightsInBf16()
    {
        var config = TinyWan.Config();
        using var source = TinyWan.Model(13, config, ScalarType.BFloat16);
        var all = source.named_parameters().Select(p => new KeyValuePair<string, Tensor>(WanDiffusersNames.FromOfficial(p.name), p.parameter)).ToList();
        SafeTensorsWriter.Write(Path.Combine(_directory, "diffusion_pytorch_model-00001-of-00002.safetensors"), all.Take(20));
        SafeTensorsWriter.Write(Path.Combine(_directory, "diffusion_pytorch_model-00002-of-00002.safetensors"), all.Skip(20));
        var map = all.Select((p, i) => (p.Key, File: i < 20 ? "diffusion_pytorch_model-00001-of-00002.safetensors" : "diffusion_pytorch_model-00002-of-00002.safetensors"))
            .ToDictionary(p => p.Key, p => p.File);
        File.WriteAllText(Path.Combine(_directory, WanCheckpoint.IndexFileName), System.Text.Json.JsonSerializer.Serialize(new { weight_map = map }));

        using var target = TinyWan.Model(14, config, ScalarType.BFloat16);
        WanCheckpoint.Load(target, _directory);
        AssertSameModel(source, target);
    }

    [Fact]
    public void NamesAMissingDiffusersTensorByItsDiffusersName()
    {
        using var model = TinyWan.Model(15);
        var parameters = model.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>(WanDiffusersNames.FromOfficial(p.name), p.parameter))
            .Where(p => p.Key != "blocks.1.attn2.to_out.0.bias");
        string path = Path.Combine(_directory, "partial.safetensors");
        SafeTensorsWriter.Write(path, parameters);
        var error = Assert.Throws<WanCheckpointException>(() => WanCheckpoint.Load(model, path));
        Assert.Contains("lacks 'blocks.1.attn2.to_out.0.bias'", error.Message);
        Assert.Contains("diffusers names", error.Message);
    }

    [Fact]
    public void ReportsACorruptFileAsACheckpointError()
    {
        string path = Path.Combine(_directory, "corrupt.safetensors");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        using var model = TinyWan.Model(16);
        var error = Assert.Throws<WanCheckpointException>(() => WanCheckpoint.Load(model, path));
        Assert.Contains(path, error.Message);
        Assert.IsType<SafeTensorsFormatException>(error.InnerException?.InnerException);
        Assert.IsAssignableFrom<CheckpointException>(error);
    }
}
