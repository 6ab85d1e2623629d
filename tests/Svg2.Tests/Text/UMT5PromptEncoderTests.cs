using Svg2.IO;
using Svg2.Models.Checkpoints;
using Svg2.Models.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Text;

public sealed class UMT5PromptEncoderTests : IDisposable
{
    // The tokenizer test model has 800 pieces.
    static readonly UMT5Config Config = TinyUMT5.Config(vocabulary: 800);
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-prompt-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    static UMT5Tokenizer Tokenizer(int textLength = 48) =>
        UMT5Tokenizer.FromFile(SharedData.Path(Path.Combine("tokenizer", "unigram.model")), textLength);

    [Fact]
    public void EncodingKeepsThePromptsOwnPositionsAsFloat32OnTheCpu()
    {
        var tokenizer = Tokenizer();
        using var reference = TinyUMT5.Create(Config, seed: 71);
        using var encoder = new UMT5PromptEncoder(tokenizer, TinyUMT5.Create(Config, seed: 71));
        Assert.Equal(Config.Dim, encoder.ContextDim);
        const string prompt = "  A cat walks on the grass,\n realistic style. ";
        var tokens = encoder.Tokenize(prompt);
        Assert.Equal(tokenizer.Tokenize("A cat walks on the grass, realistic style.").Ids, tokens.Ids);

        using var context = encoder.Encode(prompt);
        Assert.Equal(new long[] { 1, tokens.Length, Config.Dim }, context.shape);
        Assert.Equal(ScalarType.Float32, context.dtype);
        Assert.Equal(DeviceType.CPU, context.device_type);
        using var ids = tensor(tokens.Ids.Select(i => (long)i).ToArray()).unsqueeze(0);
        using var mask = tensor(tokens.Mask().Select(i => (long)i).ToArray()).unsqueeze(0);
        using var full = reference.Forward(ids, mask);
        Assert.Equal(0, TestTensors.RelativeError(context, full.narrow(1, 0, tokens.Length)));
    }

    [Fact]
    public void EncodingWithoutPaddingGivesTheSameContext()
    {
        using var padded = new UMT5PromptEncoder(Tokenizer(), TinyUMT5.Create(Config, seed: 72));
        using var unpadded = new UMT5PromptEncoder(Tokenizer(), TinyUMT5.Create(Config, seed: 72), padToTextLength: false);
        const string prompt = "Two anthropomorphic cats fight on a stage.";
        using var a = padded.Encode(prompt);
        using var b = unpadded.Encode(prompt);
        Assert.Equal(a.shape, b.shape);
        Assert.InRange(TestTensors.RelativeError(b, a), 0, 1e-6);
    }

    [Fact]
    public void OffloadedWeightsComeBackAndReleasedOnesAreGone()
    {
        using var encoder = new UMT5PromptEncoder(Tokenizer(), TinyUMT5.Create(Config, seed: 73));
        using var before = encoder.Encode("a cat");
        encoder.Offload();
        using var after = encoder.Encode("a cat");
        Assert.Equal(0, TestTensors.RelativeError(after, before));
        encoder.Release();
        Assert.True(encoder.IsReleased);
        Assert.Throws<ObjectDisposedException>(() => encoder.Encode("a cat"));
    }

    [Fact]
    public void LoadReadsTheTokenizerFolderAndEitherNaming()
    {
        File.Copy(SharedData.Path(Path.Combine("tokenizer", "unigram-hf", "tokenizer.json")), Path.Combine(_directory, "tokenizer.json"));
        using var original = TinyUMT5.Create(Config, seed: 74);
        var weights = Path.Combine(_directory, "model.safetensors");
        SafeTensorsWriter.Write(weights, original.named_parameters().Select(p => new KeyValuePair<string, Tensor>(UMT5Checkpoint.TransformersName(p.name), p.parameter)));
        using var source = SafeTensorsSource.Open(weights);
        using var encoder = UMT5PromptEncoder.Load(_directory, source, new UMT5PromptEncoderOptions { Device = CPU, WeightType = ScalarType.Float32, TextLength = 32, Config = Config });
        Assert.Equal(32, encoder.Tokenizer.TextLength);
        using var direct = new UMT5PromptEncoder(encoder.Tokenizer, TinyUMT5.Create(Config, seed: 74));
        using var a = encoder.Encode("a red bicycle");
        using var b = direct.Encode("a red bicycle");
        Assert.Equal(0, TestTensors.RelativeError(a, b));
    }

    [Fact]
    public void LoadWithoutTokenizerFilesNamesTheFolder()
    {
        using var original = TinyUMT5.Create(Config, seed: 75);
        var weights = Path.Combine(_directory, "model.safetensors");
        SafeTensorsWriter.Write(weights, original.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)));
        using var source = SafeTensorsSource.Open(weights);
        var error = Assert.Throws<CheckpointException>(() => UMT5PromptEncoder.Load(_directory, source, new UMT5PromptEncoderOptions { Device = CPU }));
        Assert.Contains(_directory, error.Message);
    }

    [Fact]
    public void IdsOfAnotherTextLengthAreRefused()
    {
        using var encoder = new UMT5PromptEncoder(Tokenizer(48), TinyUMT5.Create(Config, seed: 76));
        var other = Tokenizer(16).Tokenize("a cat");
        Assert.Contains("expected 48 ids", Assert.Throws<ArgumentException>(() => encoder.Encode(other)).Message);
    }
}
