using Svg2.Cli.Commands.Conformance;
using Svg2.IO;
using Svg2.Models.Vae;
using Svg2.Tests.Vae;
using static TorchSharp.torch;

namespace Svg2.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public sealed class VaeConformanceCommandTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("svg2-vae-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static int Invoke(params string[] args) => ConformanceCommand.Create().Parse(["vae", .. args]).Invoke();

    string Weights(WanVae model)
    {
        string path = Path.Combine(_folder, "vae.safetensors");
        SafeTensorsWriter.Write(path, model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)));
        return path;
    }

    [Fact]
    public void WritesTheDecodedAndEncodedTensorsOfTheInputs()
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(50, dtype: ScalarType.Float32);
        var latents = TinyVae.Latents(51, 2, dtype: ScalarType.Float32);
        var video = TinyVae.Video(52, 5, dtype: ScalarType.Float32);
        string inputs = Path.Combine(_folder, "inputs.safetensors"), output = Path.Combine(_folder, "ours.safetensors");
        SafeTensorsWriter.Write(inputs, [new("latents", latents), new("video", video)]);

        Assert.Equal(0, Invoke("--weights", Weights(model), "--inputs", inputs, "--out", output, "--device", "cpu", "--base-dim", "4"));

        using var file = SafeTensorsFile.Open(output);
        Assert.True(TestTensors.RelativeError(file.Read("decoded"), model.Decode(latents)) < 1e-6);
        Assert.True(TestTensors.RelativeError(file.Read("encoded"), model.Encode(video)) < 1e-6);
    }

    [Fact]
    public void NonFiniteInputsAreRefusedNamingTheElement()
    {
        using var scope = NewDisposeScope();
        using var model = TinyVae.Model(54, dtype: ScalarType.Float32);
        var latents = TinyVae.Latents(55, 2, dtype: ScalarType.Float32);
        latents[0, 3, 1, 1, 2] = tensor(float.NaN);
        string inputs = Path.Combine(_folder, "nan.safetensors");
        SafeTensorsWriter.Write(inputs, [new("latents", latents)]);
        var (code, error) = StandardError.Capture(() =>
            Invoke("--weights", Weights(model), "--inputs", inputs, "--out", Path.Combine(_folder, "out.safetensors"), "--device", "cpu", "--base-dim", "4"));
        Assert.Equal(2, code);
        Assert.Contains($"Tensor 'latents' in {inputs} holds 1 non-finite value(s)", error);
        Assert.Contains("index [0, 3, 1, 1, 2]", error);
    }

    [Theory]
    [InlineData("--base-dim 4 --inputs x.safetensors", "--inputs and --out go together")]
    [InlineData("--base-dim 4", "Give --inputs (with --out), --time-decode, or both")]
    [InlineData("--base-dim 4 --time-decode 81x720", "FRAMESxHEIGHTxWIDTH")]
    [InlineData("--base-dim 4 --time-decode 8x16x16", "1 + 4n frames")]
    [InlineData("--base-dim 8 --time-decode 1x16x16", "'encoder.conv1.weight'")]
    public void BadArgumentsAndWeightsAreOneLineErrors(string arguments, string message)
    {
        using var model = TinyVae.Model(53, dtype: ScalarType.Float32);
        string weights = Weights(model);
        var (code, error) = StandardError.Capture(() =>
            Invoke(["--weights", weights, "--device", "cpu", .. arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)]));
        Assert.Equal(2, code);
        Assert.Contains(message, error);
    }
}
