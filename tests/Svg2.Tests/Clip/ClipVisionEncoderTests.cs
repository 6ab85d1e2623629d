using Svg2.Models.Checkpoints;
using Svg2.Models.Clip;
using Svg2.Tests.Models;
using static TorchSharp.torch;

namespace Svg2.Tests.Clip;

public class ClipVisionEncoderTests
{
    static Tensor Pixels(int seed, ClipVisionConfig config, long batch = 2) =>
        randn([batch, 3, config.ImageSize, config.ImageSize], generator: new Generator((ulong)seed));

    [Fact]
    public void Float32FeaturesMatchTheFloat64ReferenceOfAllButTheLastBlock()
    {
        var config = TinyClip.Config;
        var weights = TinyClip.OfficialWeights(config, 11);
        using var encoder = ClipCheckpoint.Load(new MemoryTensorSource(weights), config, CPU, ScalarType.Float32);
        using var pixels = Pixels(12, config);
        using var features = encoder.Forward(pixels);
        using var expected = TinyClip.Reference64(weights, config, pixels);
        Assert.Equal(new long[] { 2, config.Tokens, config.Dim }, features.shape);
        Assert.Equal(ScalarType.Float32, features.dtype);
        Assert.InRange(TinyWan.RelativeError(features, expected), 0, 1e-5);
    }

    [Fact]
    public void Bf16FeaturesStayWithinBf16RoundingOfTheReference()
    {
        var config = TinyClip.Config;
        var weights = TinyClip.OfficialWeights(config, 13);
        using var encoder = ClipCheckpoint.Load(new MemoryTensorSource(weights), config, CPU, ScalarType.BFloat16);
        using var pixels = Pixels(14, config);
        using var features = encoder.Forward(pixels);
        using var expected = TinyClip.Reference64(weights, config, pixels);
        Assert.Equal(ScalarType.BFloat16, features.dtype);
        Assert.InRange(TinyWan.RelativeError(features, expected), 1e-4, 3e-2);
    }

    [Fact]
    public void TransformersNamesLoadTheSameWeightsAndReadNeitherTheTextTowerNorTheUnusedHead()
    {
        var config = TinyClip.Config;
        var official = TinyClip.OfficialWeights(config, 15);
        var officialSource = new MemoryTensorSource(official);
        var transformersSource = new MemoryTensorSource(TinyClip.TransformersWeights(official, config));
        Assert.Equal(ClipWeightNames.Official, ClipCheckpoint.DetectNames(officialSource));
        Assert.Equal(ClipWeightNames.Transformers, ClipCheckpoint.DetectNames(transformersSource));
        using var a = ClipCheckpoint.Load(officialSource, config, CPU, ScalarType.Float32);
        using var b = ClipCheckpoint.Load(transformersSource, config, CPU, ScalarType.Float32);
        using var pixels = Pixels(16, config, 1);
        using var fa = a.Forward(pixels);
        using var fb = b.Forward(pixels);
        Assert.True(fa.equal(fb).all().item<bool>());
        Assert.DoesNotContain(officialSource.Reads, n => !n.StartsWith("visual.", StringComparison.Ordinal) || n.StartsWith("visual.transformer.2.", StringComparison.Ordinal)
            || n.StartsWith("visual.post_norm", StringComparison.Ordinal) || n == "visual.head");
        Assert.DoesNotContain(transformersSource.Reads, n => n.Contains("layers.2.", StringComparison.Ordinal) || n.Contains("post_layernorm", StringComparison.Ordinal)
            || n.StartsWith("visual_projection", StringComparison.Ordinal));
    }

    [Fact]
    public void TheConfigurationIsReadFromTheShapesOrFromTransformersConfigJson()
    {
        var config = TinyClip.Config;
        var official = TinyClip.OfficialWeights(config, 17);
        Assert.Equal(config, ClipCheckpoint.InferConfig(new MemoryTensorSource(official), headDim: 16));
        Assert.Equal(config, ClipCheckpoint.InferConfig(new MemoryTensorSource(TinyClip.TransformersWeights(official, config)), headDim: 16));
        Assert.Contains("head width 80", Assert.Throws<CheckpointException>(() => ClipCheckpoint.InferConfig(new MemoryTensorSource(official))).Message);

        string path = Path.Combine(Directory.CreateTempSubdirectory("svg2-clip-").FullName, "config.json");
        try
        {
            File.WriteAllText(path, """{"hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 3, "patch_size": 7, "image_size": 28, "hidden_act": "gelu"}""");
            Assert.Equal(config, ClipCheckpoint.ReadTransformersConfig(path));
            // ViT-H/14 as diffusers saves it: 224 pixels and eps 1e-5 are transformers' defaults and may be left out.
            File.WriteAllText(path, """{"hidden_size": 1280, "intermediate_size": 5120, "num_attention_heads": 16, "num_hidden_layers": 32, "patch_size": 14, "hidden_act": "gelu", "projection_dim": 1024}""");
            Assert.Equal(ClipVisionConfig.VitH14, ClipCheckpoint.ReadTransformersConfig(path));
            File.WriteAllText(path, """{"hidden_size": 32, "num_attention_heads": 2, "hidden_act": "quick_gelu"}""");
            Assert.Contains("quick_gelu", Assert.Throws<CheckpointException>(() => ClipCheckpoint.ReadTransformersConfig(path)).Message);
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, recursive: true); }
    }

    [Theory]
    [InlineData("official", "visual.transformer.1.mlp.0.bias", "lacks 'visual.transformer.1.mlp.0.bias'")]
    [InlineData("transformers", "vision_model.encoder.layers.0.self_attn.k_proj.weight", "lacks 'vision_model.encoder.layers.0.self_attn.k_proj.weight'")]
    [InlineData("transformers", "vision_model.pre_layrnorm.bias", "lacks 'vision_model.pre_layrnorm.bias'")]
    public void AMissingTensorIsNamed(string naming, string removed, string expected)
    {
        var config = TinyClip.Config;
        var official = TinyClip.OfficialWeights(config, 18);
        var weights = naming == "official" ? official : TinyClip.TransformersWeights(official, config);
        weights.Remove(removed);
        var error = Assert.Throws<CheckpointException>(() => ClipCheckpoint.Load(new MemoryTensorSource(weights), config, CPU, ScalarType.Float32));
        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData("official", "visual.transformer.0.attn.proj.weight", "'visual.transformer.0.attn.proj.weight' has shape [32, 31]")]
    [InlineData("transformers", "vision_model.encoder.layers.1.self_attn.v_proj.weight", "'vision_model.encoder.layers.1.self_attn.v_proj.weight' Float32 [32, 31]")]
    [InlineData("transformers", "vision_model.encoder.layers.1.mlp.fc1.weight", "'vision_model.encoder.layers.1.mlp.fc1.weight' has shape [48, 31]")]
    public void AMisShapedTensorIsNamedWithItsShape(string naming, string changed, string expected)
    {
        var config = TinyClip.Config;
        var official = TinyClip.OfficialWeights(config, 19);
        var weights = naming == "official" ? official : TinyClip.TransformersWeights(official, config);
        weights[changed] = weights[changed].narrow(1, 0, 31);
        var error = Assert.Throws<CheckpointException>(() => ClipCheckpoint.Load(new MemoryTensorSource(weights), config, CPU, ScalarType.Float32));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void AnotherDepthOrAStrayVisionTensorIsRefused()
    {
        var config = TinyClip.Config;
        var weights = TinyClip.OfficialWeights(config, 20);
        var deeper = TinyClip.OfficialWeights(config with { Layers = 4 }, 20);
        Assert.Contains("has 4 blocks; the model expects 3", Assert.Throws<CheckpointException>(
            () => ClipCheckpoint.Load(new MemoryTensorSource(deeper), config, CPU, ScalarType.Float32)).Message);
        weights["visual.proj_extra"] = zeros(2);
        Assert.Contains("'visual.proj_extra' has no place", Assert.Throws<CheckpointException>(
            () => ClipCheckpoint.Load(new MemoryTensorSource(weights), config, CPU, ScalarType.Float32)).Message);
        Assert.Contains("not a CLIP vision tower", Assert.Throws<CheckpointException>(
            () => ClipCheckpoint.DetectNames(new MemoryTensorSource(new Dictionary<string, Tensor> { ["encoder.conv1.weight"] = zeros(1) }))).Message);
    }

    [Fact]
    public void ForwardRefusesPixelsOfTheWrongShape()
    {
        using var encoder = new ClipVisionEncoder(TinyClip.Config, CPU, ScalarType.Float32);
        using var pixels = zeros(1, 3, 27, 28);
        Assert.Contains("[B, 3, 28, 28]", Assert.Throws<ArgumentException>(() => encoder.Forward(pixels)).Message);
    }
}
