using System.CommandLine;
using Svg2.Cli.Commands;
using Svg2.Cli.Commands.Conformance;

namespace Svg2.Tests.Cli;

/// <summary>
/// Options a command would accept and then ignore in the mode it runs in are refused: exit code 2 and one
/// line on stderr naming the option, before any file is read or any model loaded.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class IgnoredOptionTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-ignored-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static (int Code, string Error) Run(Command command, params string[] args) =>
        StandardError.Capture(() => new RootCommand { command }.Parse([command.Name, .. args]).Invoke());

    static void AssertRefused((int Code, string Error) outcome, string expected)
    {
        Assert.Equal(2, outcome.Code);
        Assert.Contains(expected, outcome.Error);
        Assert.DoesNotContain('\n', outcome.Error.Trim());
    }

    [Fact]
    public void VerifyRefusesAnUnknownDevice() =>
        AssertRefused(Run(VerifyCommand.Create(), "--device", "cpu"), "Unknown device 'cpu'");

    [Fact]
    public void VerifyRefusesANegativeOrdinal() =>
        AssertRefused(Run(VerifyCommand.Create(), "--ordinal", "-1"), "--ordinal must be at least 0");

    [Fact]
    public void QualityRefusesKMeansIterationsWithoutAClusteringMethod() =>
        AssertRefused(Run(QualityCommand.Create(), "--methods", "blocks", "--step-iters", "1", "--out-dir", folder), "--step-iters");

    [Fact]
    public void QualityRefusesZeroKMeansIterations() =>
        AssertRefused(Run(QualityCommand.Create(), "--methods", "svg2", "--step-iters", "0", "--out-dir", folder, "--device", "cpu", "--prompts", "nothing"), "--step-iters must be at least 1");

    [Fact]
    public void QualityRefusesSvg2EarOptionsWithoutSvg2Ear() =>
        AssertRefused(Run(QualityCommand.Create(), "--methods", "svg2", "blocks", "--routing", "top-p", "--out-dir", folder), "only svg2-ear");

    [Fact]
    public void QualityRefusesTheErrorThresholdUnderTopPRouting() =>
        AssertRefused(Run(QualityCommand.Create(), "--methods", "svg2-ear", "--routing", "top-p", "--error-threshold", "2", "--out-dir", folder),
            "svg2-ear with --routing top-p selects by top-p");

    [Fact]
    public void CompareRefusesFfmpegForTwoFrameFolders()
    {
        string a = Directory.CreateDirectory(Path.Combine(folder, "a")).FullName, b = Directory.CreateDirectory(Path.Combine(folder, "b")).FullName;
        AssertRefused(Run(CompareCommand.Create(), a, b, "--ffmpeg", "/usr/bin/ffmpeg"), "does not use --ffmpeg");
    }

    [Fact]
    public void DataRefusesASeedWhenNothingIsHeldOut() =>
        AssertRefused(Run(DataCommand.Create(), "--footage", folder, "--out", Path.Combine(folder, "clips.safetensors"), "--heldout-fraction", "0", "--seed", "3"),
            "does not use --seed");

    [Fact]
    public void QualityRefusesClusterCountsWithoutAClusteringMethod() =>
        AssertRefused(Run(QualityCommand.Create(), "--out-dir", folder, "--methods", "blocks", "--kc", "64"), "does not use --kc");

    [Fact]
    public void GenerateRefusesT5OnTheCpuForTheBuiltInModel() =>
        AssertRefused(Run(GenerateCommand.Create(), "--out", Path.Combine(folder, "video.mp4"), "--t5-cpu"), "does not use --t5-cpu");

    [Theory]
    [InlineData("--steps 100", "--steps")]
    [InlineData("--checkpoint-every 10", "--checkpoint-every")]
    public void TrainProfileRefusesRunOptions(string arguments, string named) =>
        AssertRefused(Run(TrainCommand.Create(), ["--profile", "--data", Path.Combine(folder, "clips.safetensors"), .. arguments.Split(' ')]), $"does not use {named}");

    [Fact]
    public void VaeConformanceRefusesTf32OnTheCpu() =>
        AssertRefused(StandardError.Capture(() => ConformanceCommand.Create().Parse(
            ["vae", "--weights", Path.Combine(folder, "vae.safetensors"), "--time-decode", "5x16x16", "--device", "cpu", "--tf32"]).Invoke()), "does not use --tf32");
}
