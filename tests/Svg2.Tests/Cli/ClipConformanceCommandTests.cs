using System.Text.Json;
using Svg2.Cli.Commands.Conformance;
using Svg2.IO;
using Svg2.Models.Clip;
using Svg2.Tests.Clip;
using static TorchSharp.torch;

namespace Svg2.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public sealed class ClipConformanceCommandTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("svg2-clip-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static int Invoke(params string[] args) => ConformanceCommand.Create().Parse(["clip", .. args]).Invoke();

    // Official names carry no head count: the command reads it as ViT-H/14's head width 80, so this tower is 160 wide.
    static ClipVisionConfig Config => TinyClip.Config with { Dim = 160, Heads = 2, MlpDim = 64 };

    string Write(string name, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        string path = Path.Combine(_folder, name);
        SafeTensorsWriter.Write(path, tensors.Select(p => new KeyValuePair<string, Tensor>(p.Key, p.Value.contiguous())));
        return path;
    }

    [Fact]
    public void WritesThePreprocessedPixelsAndTheFeaturesUnderEitherNaming()
    {
        var official = TinyClip.OfficialWeights(Config, 61);
        using var image = rand([3, 40, 52], generator: new Generator(62)) * 2 - 1;
        string inputs = Write("inputs.safetensors", [new("image", image)]);
        string configPath = Path.Combine(_folder, "config.json");
        File.WriteAllText(configPath, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["hidden_size"] = Config.Dim, ["intermediate_size"] = Config.MlpDim, ["num_attention_heads"] = Config.Heads, ["num_hidden_layers"] = Config.Layers,
            ["patch_size"] = Config.PatchSize, ["image_size"] = Config.ImageSize, ["hidden_act"] = "gelu",
        }));
        string ours = Path.Combine(_folder, "ours.safetensors"), theirs = Path.Combine(_folder, "ours-transformers.safetensors");
        Assert.Equal(0, Invoke("--weights", Write("official.safetensors", official), "--inputs", inputs, "--out", ours, "--device", "cpu"));
        Assert.Equal(0, Invoke("--weights", Write("transformers.safetensors", TinyClip.TransformersWeights(official, Config)), "--config", configPath,
            "--inputs", inputs, "--out", theirs, "--device", "cpu"));

        using var pixels = ClipImagePreprocessing.Apply(image.unsqueeze(0), Config.ImageSize, CPU);
        using var expected = TinyClip.Reference64(official, Config, pixels);
        using var file = SafeTensorsFile.Open(ours);
        using var other = SafeTensorsFile.Open(theirs);
        using var written = file.Read("features");
        Assert.True(file.Read("pixels").equal(pixels).all().item<bool>());
        Assert.Equal(new long[] { 1, Config.Tokens, Config.Dim }, written.shape);
        Assert.InRange(TestTensors.RelativeError(written, expected), 0, 1e-5);
        Assert.True(other.Read("features").equal(written).all().item<bool>());
    }

    [Fact]
    public void BadInputsAndWeightsAreOneLineErrors()
    {
        var official = TinyClip.OfficialWeights(Config, 63);
        string weights = Write("w.safetensors", official);
        string noImage = Write("none.safetensors", [new("latents", zeros(1, 2))]);
        string flat = Write("flat.safetensors", [new("image", zeros(28, 28))]);
        official.Remove("visual.transformer.0.attn.to_qkv.bias");
        string incomplete = Write("incomplete.safetensors", official);
        foreach (var (args, message) in new[]
        {
            (new[] { "--weights", weights, "--inputs", noImage }, "hold no tensor 'image'"),
            (new[] { "--weights", weights, "--inputs", flat }, "expected [3, H, W]"),
            (new[] { "--weights", incomplete, "--inputs", flat }, "lacks 'visual.transformer.0.attn.to_qkv.bias'"),
        })
        {
            var (code, error) = StandardError.Capture(() => Invoke([.. args, "--out", Path.Combine(_folder, "x.safetensors"), "--device", "cpu"]));
            Assert.Equal(2, code);
            Assert.Contains(message, error);
        }
    }
}
