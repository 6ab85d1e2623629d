using Svg2.Cli.Commands.Conformance;
using Svg2.IO;
using Svg2.Models.Text;
using Svg2.Tests.Text;
using static TorchSharp.torch;

namespace Svg2.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public sealed class UMT5ConformanceCommandTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-umt5-conformance-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    string File(string name) => Path.Combine(_directory, name);

    [Fact]
    public void WritesThePaddedOutputAndEachPromptTrimmedAndAlone()
    {
        // The command takes the size from the weights and umT5's maximum distance, which no tensor stores.
        var config = TinyUMT5.Config() with { MaxDistance = UMT5Config.Xxl.MaxDistance };
        using var encoder = TinyUMT5.Create(config, seed: 81);
        SafeTensorsWriter.Write(File("weights.safetensors"), encoder.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>(UMT5Checkpoint.TransformersName(p.name), p.parameter)));
        int[] lengths = [20, 6];
        using var ids = TinyUMT5.ToTensor(TinyUMT5.Ids(82, 20, config.VocabularySize, lengths));
        using var mask = TinyUMT5.Mask(20, lengths);
        SafeTensorsWriter.Write(File("inputs.safetensors"), [new("ids", ids), new("mask", mask)]);

        int code = ConformanceCommand.Create().Parse(["umt5", "--weights", File("weights.safetensors"), "--inputs", File("inputs.safetensors"),
            "--out", File("ours.safetensors"), "--device", "cpu"]).Invoke();
        Assert.Equal(0, code);

        using var ours = SafeTensorsFile.Open(File("ours.safetensors"));
        Assert.Equal(new[] { "output", "trimmed.0", "trimmed.1", "unpadded.0", "unpadded.1" }, ours.Names.Order());
        using var expected = encoder.Forward(ids, mask);
        using var output = ours.Read("output");
        Assert.Equal(0, TestTensors.RelativeError(output, expected));
        for (int b = 0; b < lengths.Length; b++)
        {
            using var trimmed = ours.Read($"trimmed.{b}");
            using var alone = ours.Read($"unpadded.{b}");
            Assert.Equal(new long[] { lengths[b], config.Dim }, trimmed.shape);
            Assert.Equal(0, TestTensors.RelativeError(trimmed, expected[b].narrow(0, 0, lengths[b])));
            Assert.InRange(TestTensors.RelativeError(alone, trimmed), 0, 1e-6);
        }
    }

    [Fact]
    public void AMaskThatIsNotAPrefixEndsInOneClearLine()
    {
        using var encoder = TinyUMT5.Create(TinyUMT5.Config(), seed: 83);
        SafeTensorsWriter.Write(File("weights.safetensors"), encoder.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)));
        SafeTensorsWriter.Write(File("inputs.safetensors"), [new("ids", ones(1, 4, dtype: ScalarType.Int64)),
            new("mask", tensor(new long[] { 1, 0, 1, 0 }).unsqueeze(0))]);
        var (code, error) = StandardError.Capture(() => ConformanceCommand.Create().Parse(["umt5", "--weights", File("weights.safetensors"),
            "--inputs", File("inputs.safetensors"), "--out", File("ours.safetensors"), "--device", "cpu"]).Invoke());
        Assert.Equal(2, code);
        Assert.Contains("mask row 0 is not a run of ones followed by zeros", error);
    }

    [Fact]
    public void WeightsOfAnotherModelEndInOneClearLine()
    {
        SafeTensorsWriter.Write(File("weights.safetensors"), [new("blocks.0.self_attn.q.weight", zeros(2, 2))]);
        SafeTensorsWriter.Write(File("inputs.safetensors"), [new("ids", ones(1, 4, dtype: ScalarType.Int64)), new("mask", ones(1, 4, dtype: ScalarType.Int64))]);
        var (code, error) = StandardError.Capture(() => ConformanceCommand.Create().Parse(["umt5", "--weights", File("weights.safetensors"),
            "--inputs", File("inputs.safetensors"), "--out", File("ours.safetensors"), "--device", "cpu"]).Invoke());
        Assert.Equal(2, code);
        Assert.Contains("not a umT5 encoder", error);
    }
}
