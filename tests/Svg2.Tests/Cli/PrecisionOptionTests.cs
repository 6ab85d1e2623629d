using System.CommandLine;
using Spectre.Console;
using Svg2.Cli.Commands;
using Svg2.IO;

namespace Svg2.Tests.Cli;

/// <summary>--precision on the commands that attend: FP8 runs the emulation on the CPU, and what it cannot run is one clear line.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class PrecisionOptionTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-precision-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static (int Code, string Error) Run(Command command, params string[] args) =>
        StandardError.Capture(() => new RootCommand { command }.Parse([command.Name, .. args]).Invoke());

    string WriteQkv(int seed, long[] shape)
    {
        string path = Path.Combine(folder, $"qkv{seed}.safetensors");
        SafeTensorsWriter.Write(path, [new("q", TestTensors.Normal(seed, shape)), new("k", TestTensors.Normal(seed + 1, shape)), new("v", TestTensors.Normal(seed + 2, shape))]);
        return path;
    }

    static void AssertRefused((int Code, string Error) outcome, string expected)
    {
        Assert.Equal(2, outcome.Code);
        Assert.Contains(expected, outcome.Error);
        Assert.DoesNotContain('\n', outcome.Error.Trim());
    }

    [Fact]
    public void OnlyBf16AndFp8AreAccepted()
    {
        var (code, error) = Run(EvalCommand.Create(), "--qkv", WriteQkv(1, [1, 1, 32, 64]), "--precision", "fp16");
        Assert.NotEqual(0, code);
        Assert.Contains("fp16", error);
    }

    [Fact]
    public void EvalRunsFp8OnPaddedHeadsAndPrintsTheErrorStudy()
    {
        var output = new StringWriter();
        var original = AnsiConsole.Console;
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), ColorSystem = ColorSystemSupport.NoColors });
        AnsiConsole.Console.Profile.Width = 200;
        int code;
        try
        {
            code = Run(EvalCommand.Create(), "--qkv", WriteQkv(2, [1, 2, 96, 16]), "--precision", "fp8", "--pad-head-dim", "64", "--density", "0.3",
                "--out", Path.Combine(folder, "out.safetensors")).Code;
        }
        finally
        {
            AnsiConsole.Console = original;
        }
        Assert.Equal(0, code);
        Assert.Contains("FP8 attention against bf16 and float32", output.ToString());
        Assert.Contains("per-token, K smoothed", output.ToString());
        using var file = SafeTensorsFile.Open(Path.Combine(folder, "out.safetensors"));
        Assert.Equal(new long[] { 1, 2, 96, 16 }, file.Read("out").shape);
    }

    [Theory]
    [InlineData(new string[0], Svg2.Attention.Fp8.Fp8ScaleGranularity.PerToken)]
    [InlineData(new[] { "--fp8-keys", "head" }, Svg2.Attention.Fp8.Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys)]
    [InlineData(new[] { "--fp8-keys", "token" }, Svg2.Attention.Fp8.Fp8ScaleGranularity.PerToken)]
    public void Fp8KeysChoosesTheKeyScalesTheOptionsCarry(string[] keys, Svg2.Attention.Fp8.Fp8ScaleGranularity expected)
    {
        var precision = new PrecisionOption();
        var command = new Command("probe");
        foreach (var option in precision.Options) command.Options.Add(option);
        var parse = new RootCommand { command }.Parse(["probe", "--precision", "fp8", .. keys]);
        Assert.Empty(parse.Errors);
        var options = precision.ApplyTo(parse, new Svg2.Configuration.Svg2Options());
        Assert.Equal(Svg2.Configuration.AttentionPrecision.Fp8, options.Precision);
        Assert.Equal(expected, options.Fp8.Scales);
    }

    [Fact]
    public void Fp8KeysRefusesAGranularityTheKernelsDoNotTake()
    {
        var (code, error) = Run(EvalCommand.Create(), "--qkv", WriteQkv(5, [1, 1, 32, 64]), "--precision", "fp8", "--fp8-keys", "tile");
        Assert.NotEqual(0, code);
        Assert.Contains("tile", error);
    }

    [Fact]
    public void EvalRefusesFp8OnAHeadDimensionWithoutFp8() =>
        AssertRefused(Run(EvalCommand.Create(), "--qkv", WriteQkv(3, [1, 1, 32, 16]), "--precision", "fp8"), "head dimension 64 or 128; got 16");

    [Theory]
    [InlineData("blocks-64")]
    [InlineData("svg2-ear")]
    public void EvalRefusesFp8ForAMethodWithoutIt(string method) =>
        AssertRefused(Run(EvalCommand.Create(), "--qkv", WriteQkv(4, [1, 1, 32, 64]), "--precision", "fp8", "--method", method), "attends in bf16 only");

    [Fact]
    public void BenchRefusesFp8ForAMethodWithoutIt() =>
        AssertRefused(Run(BenchCommand.Create(), "--precision", "fp8", "--methods", "svg2,blocks"), "the blocks method attends in bf16 only");

    [Fact]
    public void BenchRefusesFp8OnAShapeWithoutAnFp8HeadDimension() =>
        AssertRefused(Run(BenchCommand.Create(), "--precision", "fp8", "--methods", "svg2,dense", "--shape", "tiny"), "head dimension 64 or 128; got 32");

    [Fact]
    public void GenerateRefusesFp8ForAMethodWithoutItBeforeLoadingAModel() =>
        AssertRefused(Run(GenerateCommand.Create(), "--precision", "fp8", "--method", "window", "--density", "0.2", "--out", Path.Combine(folder, "v.mp4")),
            "the window method attends in bf16 only");

    [Fact]
    public void BenchModelRefusesFp8OnAHeadDimensionWithoutIt() =>
        AssertRefused(Run(BenchModelCommand.Create(), "--precision", "fp8", "--model", "tiny", "--shape", "tiny", "--device", "cpu"), "head dimension 64 or 128; got 16");
}
