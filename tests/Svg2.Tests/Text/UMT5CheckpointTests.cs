using Svg2.IO;
using Svg2.Models.Checkpoints;
using Svg2.Models.Text;
using static TorchSharp.torch;

namespace Svg2.Tests.Text;

public sealed class UMT5CheckpointTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-umt5-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("token_embedding.weight", "shared.weight")]
    [InlineData("norm.weight", "encoder.final_layer_norm.weight")]
    [InlineData("blocks.0.norm1.weight", "encoder.block.0.layer.0.layer_norm.weight")]
    [InlineData("blocks.3.attn.q.weight", "encoder.block.3.layer.0.SelfAttention.q.weight")]
    [InlineData("blocks.3.attn.o.weight", "encoder.block.3.layer.0.SelfAttention.o.weight")]
    [InlineData("blocks.12.pos_embedding.embedding.weight", "encoder.block.12.layer.0.SelfAttention.relative_attention_bias.weight")]
    [InlineData("blocks.23.norm2.weight", "encoder.block.23.layer.1.layer_norm.weight")]
    [InlineData("blocks.5.ffn.gate.0.weight", "encoder.block.5.layer.1.DenseReluDense.wi_0.weight")]
    [InlineData("blocks.5.ffn.fc1.weight", "encoder.block.5.layer.1.DenseReluDense.wi_1.weight")]
    [InlineData("blocks.5.ffn.fc2.weight", "encoder.block.5.layer.1.DenseReluDense.wo.weight")]
    public void OfficialNamesMapToTransformersNames(string official, string transformers) =>
        Assert.Equal(transformers, UMT5Checkpoint.TransformersName(official));

    [Fact]
    public void UnknownNamesAreRefused() =>
        Assert.Contains("blocks.0.attn.x.weight", Assert.Throws<ArgumentException>(() => UMT5Checkpoint.TransformersName("blocks.0.attn.x.weight")).Message);

    [Fact]
    public void TransformersNamesLoadThroughTheParameterLoaderWithTheMap()
    {
        var config = TinyUMT5.Config();
        using var original = TinyUMT5.Create(config, seed: 61);
        var path = Save(original, "transformers.safetensors", UMT5Checkpoint.TransformersName);
        using var source = SafeTensorsSource.Open(path);
        using var loaded = new UMT5Encoder(config, CPU, ScalarType.Float32);
        ParameterLoader.Load(loaded, source, "umT5 encoder", UMT5Checkpoint.TransformersName);
        AssertSameOutputs(original, loaded);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void EitherNamingLoadsToTheSameEncoder(bool transformers, bool withTiedCopy)
    {
        var config = TinyUMT5.Config();
        using var original = TinyUMT5.Create(config, seed: 62);
        var extra = withTiedCopy ? new Dictionary<string, string> { ["shared.weight"] = UMT5Checkpoint.TransformersTiedEmbedding } : null;
        var path = Save(original, "weights.safetensors", transformers ? UMT5Checkpoint.TransformersName : n => n, extra);
        using var source = SafeTensorsSource.Open(path);
        Assert.Equal(transformers ? UMT5WeightNames.Transformers : UMT5WeightNames.Official, UMT5Checkpoint.DetectNames(source));
        Assert.Equal(config, UMT5Checkpoint.InferConfig(source, config));
        using var loaded = UMT5Checkpoint.Load(source, CPU, ScalarType.Float32, defaults: config);
        AssertSameOutputs(original, loaded);
    }

    [Fact]
    public void OnlyTheTiedCopyOfTheEmbeddingIsEnough()
    {
        var config = TinyUMT5.Config();
        using var original = TinyUMT5.Create(config, seed: 63);
        var path = Save(original, "tied.safetensors",
            n => n == "token_embedding.weight" ? UMT5Checkpoint.TransformersTiedEmbedding : UMT5Checkpoint.TransformersName(n));
        using var source = SafeTensorsSource.Open(path);
        using var loaded = UMT5Checkpoint.Load(source, CPU, ScalarType.Float32, defaults: config);
        AssertSameOutputs(original, loaded);
    }

    [Fact]
    public void AMissingTensorIsNamed()
    {
        using var original = TinyUMT5.Create(TinyUMT5.Config(), seed: 64);
        var path = Save(original, "missing.safetensors", UMT5Checkpoint.TransformersName, skip: "blocks.1.ffn.fc2.weight");
        using var source = SafeTensorsSource.Open(path);
        using var encoder = new UMT5Encoder(TinyUMT5.Config(), CPU, ScalarType.Float32);
        var error = Assert.Throws<CheckpointException>(() => UMT5Checkpoint.Load(encoder, source));
        Assert.Contains("'encoder.block.1.layer.1.DenseReluDense.wo.weight'", error.Message);
        Assert.Contains("[32, 48]", error.Message);
    }

    [Fact]
    public void AMisShapedTensorIsNamedWithBothShapes()
    {
        using var original = TinyUMT5.Create(TinyUMT5.Config(), seed: 65);
        var path = Save(original, "shape.safetensors", n => n);
        using var source = SafeTensorsSource.Open(path);
        using var wider = new UMT5Encoder(TinyUMT5.Config() with { FeedForwardDim = 40 }, CPU, ScalarType.Float32);
        var error = Assert.Throws<CheckpointException>(() => UMT5Checkpoint.Load(wider, source));
        Assert.Contains("'blocks.0.ffn.gate.0.weight'", error.Message);
        Assert.Contains("[48, 32]", error.Message);
        Assert.Contains("[40, 32]", error.Message);
    }

    [Fact]
    public void ATensorWithoutPlaceIsNamed()
    {
        using var original = TinyUMT5.Create(TinyUMT5.Config(), seed: 66);
        var path = Save(original, "deeper.safetensors", n => n);
        using var source = SafeTensorsSource.Open(path);
        using var shallower = new UMT5Encoder(TinyUMT5.Config() with { Layers = 1 }, CPU, ScalarType.Float32);
        var error = Assert.Throws<CheckpointException>(() => UMT5Checkpoint.Load(shallower, source));
        Assert.Contains("'blocks.1.", error.Message);
        Assert.Contains("no place", error.Message);
    }

    [Fact]
    public void ASourceWithoutAnEmbeddingIsNotAnEncoder()
    {
        var path = Path.Combine(_directory, "other.safetensors");
        SafeTensorsWriter.Write(path, [new("blocks.0.self_attn.q.weight", zeros(2, 2))]);
        using var source = SafeTensorsSource.Open(path);
        var error = Assert.Throws<CheckpointException>(() => UMT5Checkpoint.DetectNames(source));
        Assert.Contains("'blocks.0.self_attn.q.weight'", error.Message);
        Assert.Contains("not a umT5 encoder", error.Message);
    }

    [Fact]
    public void GapsInTheLayersAreRefused()
    {
        using var original = TinyUMT5.Create(TinyUMT5.Config() with { Layers = 3 }, seed: 67);
        var path = Save(original, "gap.safetensors", n => n, skipPrefix: "blocks.1.");
        using var source = SafeTensorsSource.Open(path);
        Assert.Contains("numbered 0 to 2 with 2 present", Assert.Throws<CheckpointException>(() => UMT5Checkpoint.InferConfig(source)).Message);
    }

    string Save(UMT5Encoder encoder, string file, Func<string, string> name, Dictionary<string, string>? copies = null,
        string? skip = null, string? skipPrefix = null)
    {
        var path = Path.Combine(_directory, file);
        var tensors = encoder.named_parameters()
            .Where(p => p.name != skip && (skipPrefix is null || !p.name.StartsWith(skipPrefix)))
            .Select(p => new KeyValuePair<string, Tensor>(name(p.name), p.parameter)).ToList();
        foreach (var (from, to) in copies ?? [])
            tensors.Add(new(to, tensors.Single(t => t.Key == from).Value));
        SafeTensorsWriter.Write(path, tensors);
        return path;
    }

    static void AssertSameOutputs(UMT5Encoder expected, UMT5Encoder actual)
    {
        var ids = TinyUMT5.ToTensor(TinyUMT5.Ids(68, 20, expected.Config.VocabularySize, 20, 6));
        using var mask = TinyUMT5.Mask(20, 20, 6);
        using var a = expected.Forward(ids, mask);
        using var b = actual.Forward(ids, mask);
        Assert.Equal(0, TestTensors.RelativeError(b, a));
    }
}
