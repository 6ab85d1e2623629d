using Svg2.IO;
using Svg2.Models.Checkpoints;
using Svg2.Models.Vae;
using static TorchSharp.torch;

namespace Svg2.Tests.Vae;

/// <summary>Parameter names as the official checkpoint's, the diffusers name map, and loading.</summary>
public sealed class WanVaeWeightTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-vae-weights-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void UsesTheOfficialNamesAndShapes()
    {
        using var model = new WanVae(TinyVae.Config(4));
        var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        // Names of the public WanVAE_ state dict; shapes at base width 4 (96 in Wan 2.1): encoder widths
        // 4, 4, 8, 16, 16 and decoder widths 16, 16, 16, 8, 4.
        var expected = new Dictionary<string, long[]>
        {
            ["encoder.conv1.weight"] = [4, 3, 3, 3, 3], ["encoder.conv1.bias"] = [4],
            ["encoder.downsamples.0.residual.0.gamma"] = [4, 1, 1, 1],
            ["encoder.downsamples.0.residual.2.weight"] = [4, 4, 3, 3, 3],
            ["encoder.downsamples.1.residual.3.gamma"] = [4, 1, 1, 1],
            ["encoder.downsamples.1.residual.6.bias"] = [4],
            ["encoder.downsamples.2.resample.1.weight"] = [4, 4, 3, 3],
            ["encoder.downsamples.3.shortcut.weight"] = [8, 4, 1, 1, 1],
            ["encoder.downsamples.5.resample.1.bias"] = [8],
            ["encoder.downsamples.5.time_conv.weight"] = [8, 8, 3, 1, 1],
            ["encoder.downsamples.6.shortcut.bias"] = [16],
            ["encoder.downsamples.8.time_conv.bias"] = [16],
            ["encoder.downsamples.10.residual.6.weight"] = [16, 16, 3, 3, 3],
            ["encoder.middle.0.residual.0.gamma"] = [16, 1, 1, 1],
            ["encoder.middle.1.norm.gamma"] = [16, 1, 1],
            ["encoder.middle.1.to_qkv.weight"] = [48, 16, 1, 1], ["encoder.middle.1.to_qkv.bias"] = [48],
            ["encoder.middle.1.proj.weight"] = [16, 16, 1, 1],
            ["encoder.middle.2.residual.6.bias"] = [16],
            ["encoder.head.0.gamma"] = [16, 1, 1, 1], ["encoder.head.2.weight"] = [32, 16, 3, 3, 3],
            ["conv1.weight"] = [32, 32, 1, 1, 1], ["conv1.bias"] = [32],
            ["conv2.weight"] = [16, 16, 1, 1, 1], ["conv2.bias"] = [16],
            ["decoder.conv1.weight"] = [16, 16, 3, 3, 3],
            ["decoder.middle.1.to_qkv.weight"] = [48, 16, 1, 1],
            ["decoder.upsamples.2.residual.6.weight"] = [16, 16, 3, 3, 3],
            ["decoder.upsamples.3.resample.1.weight"] = [8, 16, 3, 3],
            ["decoder.upsamples.3.time_conv.weight"] = [32, 16, 3, 1, 1],
            ["decoder.upsamples.4.residual.2.weight"] = [16, 8, 3, 3, 3],
            ["decoder.upsamples.4.shortcut.weight"] = [16, 8, 1, 1, 1],
            ["decoder.upsamples.7.time_conv.bias"] = [32],
            ["decoder.upsamples.8.residual.0.gamma"] = [8, 1, 1, 1],
            ["decoder.upsamples.11.resample.1.weight"] = [4, 8, 3, 3],
            ["decoder.upsamples.14.residual.6.weight"] = [4, 4, 3, 3, 3],
            ["decoder.head.0.gamma"] = [4, 1, 1, 1], ["decoder.head.2.weight"] = [3, 4, 3, 3, 3],
        };
        foreach (var (name, shape) in expected)
        {
            Assert.True(shapes.ContainsKey(name), $"missing {name}");
            Assert.Equal(shape, shapes[name]);
        }
        // Encoder: conv1 2, 8 residual blocks x 6 + 2 shortcuts x 2, resamplings 2 + 4 + 4, middle 17, head 3.
        // Decoder: conv1 2, middle 17, 12 residual blocks x 6 + 1 shortcut x 2, resamplings 4 + 4 + 2, head 3. Quant convs 4.
        Assert.Equal((2 + 52 + 10 + 17 + 3) + (2 + 17 + 74 + 10 + 3) + 4, shapes.Count);
        Assert.Empty(model.named_buffers());
    }

    [Theory]
    // Pairs from diffusers' Wan conversion script.
    [InlineData("conv1.weight", "quant_conv.weight")]
    [InlineData("conv2.bias", "post_quant_conv.bias")]
    [InlineData("encoder.conv1.weight", "encoder.conv_in.weight")]
    [InlineData("encoder.downsamples.0.residual.0.gamma", "encoder.down_blocks.0.norm1.gamma")]
    [InlineData("encoder.downsamples.3.residual.2.weight", "encoder.down_blocks.3.conv1.weight")]
    [InlineData("encoder.downsamples.3.residual.3.gamma", "encoder.down_blocks.3.norm2.gamma")]
    [InlineData("encoder.downsamples.6.residual.6.bias", "encoder.down_blocks.6.conv2.bias")]
    [InlineData("encoder.downsamples.3.shortcut.weight", "encoder.down_blocks.3.conv_shortcut.weight")]
    [InlineData("encoder.downsamples.5.time_conv.weight", "encoder.down_blocks.5.time_conv.weight")]
    [InlineData("encoder.downsamples.2.resample.1.bias", "encoder.down_blocks.2.resample.1.bias")]
    [InlineData("encoder.middle.0.residual.2.weight", "encoder.mid_block.resnets.0.conv1.weight")]
    [InlineData("encoder.middle.1.to_qkv.weight", "encoder.mid_block.attentions.0.to_qkv.weight")]
    [InlineData("encoder.middle.2.residual.3.gamma", "encoder.mid_block.resnets.1.norm2.gamma")]
    [InlineData("encoder.head.0.gamma", "encoder.norm_out.gamma")]
    [InlineData("encoder.head.2.bias", "encoder.conv_out.bias")]
    [InlineData("decoder.conv1.bias", "decoder.conv_in.bias")]
    [InlineData("decoder.middle.1.norm.gamma", "decoder.mid_block.attentions.0.norm.gamma")]
    [InlineData("decoder.upsamples.2.residual.6.weight", "decoder.up_blocks.0.resnets.2.conv2.weight")]
    [InlineData("decoder.upsamples.3.time_conv.weight", "decoder.up_blocks.0.upsamplers.0.time_conv.weight")]
    [InlineData("decoder.upsamples.3.resample.1.weight", "decoder.up_blocks.0.upsamplers.0.resample.1.weight")]
    [InlineData("decoder.upsamples.4.shortcut.bias", "decoder.up_blocks.1.resnets.0.conv_shortcut.bias")]
    [InlineData("decoder.upsamples.6.residual.0.gamma", "decoder.up_blocks.1.resnets.2.norm1.gamma")]
    [InlineData("decoder.upsamples.7.time_conv.bias", "decoder.up_blocks.1.upsamplers.0.time_conv.bias")]
    [InlineData("decoder.upsamples.8.residual.2.bias", "decoder.up_blocks.2.resnets.0.conv1.bias")]
    [InlineData("decoder.upsamples.11.resample.1.weight", "decoder.up_blocks.2.upsamplers.0.resample.1.weight")]
    [InlineData("decoder.upsamples.14.residual.6.weight", "decoder.up_blocks.3.resnets.2.conv2.weight")]
    [InlineData("decoder.head.0.gamma", "decoder.norm_out.gamma")]
    [InlineData("decoder.head.2.weight", "decoder.conv_out.weight")]
    public void MapsOfficialNamesToDiffusersNames(string official, string diffusers) =>
        Assert.Equal(diffusers, WanVaeDiffusersNames.Of(official, 2));

    [Fact]
    public void TheMapIsOneToOneAndRefusesOtherNames()
    {
        using var model = new WanVae(TinyVae.Config());
        var names = model.named_parameters().Select(p => p.name).ToList();
        var map = WanVaeDiffusersNames.For(model.Config);
        Assert.Equal(names.Count, names.Select(map).Distinct().Count());
        Assert.Throws<ArgumentException>(() => WanVaeDiffusersNames.Of("decoder.upsamples.3.residual.2.weight", 2));
        Assert.Throws<ArgumentException>(() => WanVaeDiffusersNames.Of("decoder.upsamples.4.residual.9.weight", 2));
        Assert.Throws<ArgumentException>(() => WanVaeDiffusersNames.Of("encoder.downsamples.2.time.weight", 2));
        Assert.Throws<ArgumentException>(() => WanVaeDiffusersNames.Of("blocks.0.ffn.0.weight", 2));
    }

    [Theory]
    [InlineData(WanVaeWeightNames.Official)]
    [InlineData(WanVaeWeightNames.Diffusers)]
    public void LoadsEitherNamingAndReproducesTheOutput(WanVaeWeightNames naming)
    {
        using var scope = NewDisposeScope();
        var config = TinyVae.Config();
        using var source = TinyVae.Model(40, config, ScalarType.Float32);
        using var target = new WanVae(config);
        string path = Save(source, naming, "vae.safetensors");
        using (var file = SafeTensorsSource.Open(path)) target.LoadWeights(file);

        var expected = source.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in target.named_parameters())
            Assert.True(parameter.eq(expected[name]).all().item<bool>(), $"{name} differs");
        var latents = TinyVae.Latents(41, 2, dtype: ScalarType.Float32);
        Assert.True(source.Decode(latents).eq(target.Decode(latents)).all().item<bool>());
    }

    [Fact]
    public void AMissingTensorIsNamed()
    {
        using var source = TinyVae.Model(42, dtype: ScalarType.Float32);
        string path = Save(source, WanVaeWeightNames.Diffusers, "missing.safetensors", skip: "decoder.upsamples.7.time_conv.weight");
        using var target = new WanVae(TinyVae.Config());
        using var file = SafeTensorsSource.Open(path);
        var error = Assert.Throws<CheckpointException>(() => target.LoadWeights(file));
        Assert.Contains("Wan VAE", error.Message);
        Assert.Contains("decoder.up_blocks.1.upsamplers.0.time_conv.weight", error.Message);
        Assert.Contains("[32, 16, 3, 1, 1]", error.Message);
    }

    [Fact]
    public void AMisShapedTensorIsNamed()
    {
        using var source = TinyVae.Model(43, dtype: ScalarType.Float32);
        string path = Path.Combine(_directory, "wide.safetensors");
        var tensors = source.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name,
            p.name == "encoder.middle.1.proj.weight" ? zeros(16, 8, 1, 1) : p.parameter)).ToList();
        SafeTensorsWriter.Write(path, tensors);
        using var target = new WanVae(TinyVae.Config());
        using var file = SafeTensorsSource.Open(path);
        var error = Assert.Throws<CheckpointException>(() => target.LoadWeights(file));
        Assert.Contains("'encoder.middle.1.proj.weight'", error.Message);
        Assert.Contains("[16, 8, 1, 1]", error.Message);
        Assert.Contains("[16, 16, 1, 1]", error.Message);
    }

    [Fact]
    public void ACheckpointOfNeitherNamingIsRefused()
    {
        string path = Path.Combine(_directory, "other.safetensors");
        SafeTensorsWriter.Write(path, [new("blocks.0.ffn.0.weight", zeros(2, 2))]);
        using var target = new WanVae(TinyVae.Config());
        using var file = SafeTensorsSource.Open(path);
        var error = Assert.Throws<CheckpointException>(() => target.LoadWeights(file));
        Assert.Contains("decoder.conv_in.weight", error.Message);
    }

    string Save(WanVae model, WanVaeWeightNames naming, string fileName, string? skip = null)
    {
        var map = naming == WanVaeWeightNames.Diffusers ? WanVaeDiffusersNames.For(model.Config) : name => name;
        string path = Path.Combine(_directory, fileName);
        SafeTensorsWriter.Write(path, model.named_parameters().Where(p => p.name != skip)
            .Select(p => new KeyValuePair<string, Tensor>(map(p.name), p.parameter)));
        return path;
    }
}
