using Svg2.Cli.Commands;
using Svg2.IO;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public sealed class BenchModelCommandTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-bench-model-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void TimesBothMethodsOnATinyModelOnTheCpu()
    {
        string report = Path.Combine(_directory, "bench.md");
        int code = BenchModelCommand.Create().Parse(["--model", "tiny", "--shape", "tiny", "--device", "cpu", "--dtype", "fp32",
            "--steps", "2", "--query-clusters", "4", "--key-clusters", "8", "--report", report]).Invoke();
        Assert.Equal(0, code);
        var text = File.ReadAllText(report);
        Assert.Contains("| dense (SDPA) |", text);
        Assert.Contains("| SVG2 |", text);
        Assert.Contains("end-to-end transformer speedup", text);
        Assert.Contains("| GEMMs (linear layers) |", text);
        Assert.Contains("| self-attention |", text);
        Assert.Contains("fast numerics", text);
    }

    [Fact]
    public void ADensityTargetIsReachedOnTheFirstStep()
    {
        string report = Path.Combine(_directory, "density.md");
        int code = BenchModelCommand.Create().Parse(["--model", "tiny", "--shape", "tiny", "--device", "cpu", "--dtype", "fp32", "--numerics", "reference",
            "--steps", "2", "--query-clusters", "4", "--key-clusters", "16", "--density", "0.4", "--report", report]).Invoke();
        Assert.Equal(0, code);
        var text = File.ReadAllText(report);
        Assert.Contains("density target 0.4", text);
        var row = text.Split('\n').Single(line => line.StartsWith("| SVG2 |"));
        double density = double.Parse(row.Split('|')[10].Trim().TrimEnd('%', ' '), System.Globalization.CultureInfo.InvariantCulture) / 100;
        Assert.InRange(density, 0.3, 0.5);
    }

    [Theory]
    [InlineData("--steps", "1", "--steps must be at least 2")]
    [InlineData("--layers", "0", "--layers must be at least 1")]
    [InlineData("--density", "1.5", "TargetDensity")]
    [InlineData("--inputs", "x.safetensors", "does not use --inputs")]
    public void BadArgumentsEndInOneClearLine(string option, string value, string message)
    {
        var (code, error) = StandardError.Capture(() => BenchModelCommand.Create().Parse(["--model", "tiny", "--shape", "tiny", "--device", "cpu", option, value]).Invoke());
        Assert.Equal(2, code);
        Assert.Contains(message, error);
    }

    [Fact]
    public void ConformanceModeWritesEveryBlockAndTheOutput()
    {
        var config = WanConfig.Tiny;
        manual_seed(4);
        using var model = new WanModel(config);
        string weights = Path.Combine(_directory, "weights.safetensors");
        WanCheckpoint.Save(model, weights);
        var generator = new Generator(8);
        var inputs = new WanInputs(randn([1, 16, 2, 4, 6], generator: generator), full(1, 500.0f), randn([1, 5, config.TextDim], generator: generator));
        string inputPath = Path.Combine(_directory, "inputs.safetensors");
        SafeTensorsWriter.Write(inputPath, new Dictionary<string, Tensor> { ["latents"] = inputs.Latents, ["timesteps"] = inputs.Timesteps, ["context"] = inputs.Context });
        string output = Path.Combine(_directory, "out.safetensors");

        int code = BenchModelCommand.Create().Parse(["--model", "tiny", "--device", "cpu", "--dtype", "fp32",
            "--weights", weights, "--inputs", inputPath, "--out", output]).Invoke();
        Assert.Equal(0, code);
        using var file = SafeTensorsFile.Open(output);
        Assert.Equal(["block.0", "block.1", "output"], file.Names.OrderBy(n => n));
        using var expected = model.Forward(inputs);
        using var written = file.Read("output");
        Assert.True(Models.TinyWan.RelativeError(written, expected) < 1e-6);
        Assert.Equal(new long[] { 1, 2 * 2 * 3, config.Dim }, file.Info("block.1").Shape);
    }

    [Fact]
    public void WeightsOfAnotherModelEndInOneClearLine()
    {
        manual_seed(5);
        using var deeper = new WanModel(WanConfig.Tiny with { Layers = 3 });
        string weights = Path.Combine(_directory, "deeper.safetensors");
        WanCheckpoint.Save(deeper, weights);
        var generator = new Generator(9);
        string inputPath = Path.Combine(_directory, "inputs.safetensors");
        SafeTensorsWriter.Write(inputPath, new Dictionary<string, Tensor>
        {
            ["latents"] = randn([1, 16, 2, 4, 6], generator: generator), ["timesteps"] = full(1, 500.0f),
            ["context"] = randn([1, 5, WanConfig.Tiny.TextDim], generator: generator),
        });
        var (code, error) = StandardError.Capture(() => BenchModelCommand.Create().Parse(["--model", "tiny", "--device", "cpu", "--dtype", "fp32",
            "--weights", weights, "--inputs", inputPath, "--out", Path.Combine(_directory, "out.safetensors")]).Invoke());
        Assert.Equal(2, code);
        Assert.Contains("'blocks.2.", error);
        Assert.Single(error.Trim().Split('\n'));
    }
}
