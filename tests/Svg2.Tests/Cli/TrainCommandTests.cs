using System.CommandLine;
using Svg2.Cli.Commands;
using Svg2.Models.Small;
using Svg2.Models.Training;
using Svg2.Tests.Small;

namespace Svg2.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public sealed class TrainCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-train-cli-").FullName;
    readonly string data;

    public TrainCommandTests()
    {
        data = Path.Combine(folder, "clips.safetensors");
        using var clips = TinyFootage.Dataset(11);
        clips.Write(data);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static int Invoke(params string[] args)
    {
        var command = TrainCommand.Create();
        return new RootCommand { command }.Parse([command.Name, .. args]).Invoke();
    }

    string[] Tiny(string run, params string[] more) =>
        ["--data", data, "--model", "tiny", "--run", run, "--device", "cpu", "--warmup", "2", "--eval-every", "3", "--batch", "2", .. more];

    [Fact]
    public void ReplotRedrawsTheLossPlotOfAnExportFromItsLogs()
    {
        string run = Path.Combine(folder, "replotted");
        Assert.Equal(0, Invoke(Tiny(run, "--steps", "3")));
        string export = Path.Combine(run, "export"), plot = Path.Combine(export, "loss.png");
        File.Delete(plot);
        Assert.Equal(0, Invoke("--replot", export));
        Assert.True(new FileInfo(plot).Length > 0, "the loss plot was not redrawn");
        Assert.NotEqual(0, Invoke("--replot", Path.Combine(folder, "no-such-run")));
        Assert.NotEqual(0, Invoke("--replot", export, "--data", data));
    }

    [Fact]
    public void ARunStoppedAndResumedFinishesWithTheExportAndSamples()
    {
        string run = Path.Combine(folder, "run");
        Assert.Equal(0, Invoke(Tiny(run, "--steps", "6", "--max-steps", "4")));
        Assert.True(File.Exists(Path.Combine(run, TrainingCheckpoint.FileName)));
        Assert.True(File.Exists(Path.Combine(run, "export", SmallVideoTrainer.ModelFileName)));
        Assert.False(File.Exists(Path.Combine(run, "export", "samples.png")));

        Assert.Equal(0, Invoke("--resume", run, "--device", "cpu"));
        var steps = TrainingLog.ReadSteps(Path.Combine(run, TrainingLog.StepFileName));
        Assert.Equal(Enumerable.Range(1, 6), steps.Select(s => s.Step));
        var export = Path.Combine(run, "export");
        foreach (var file in new[] { "loss.png", "samples.png", "commands.txt", TrainingLog.StepFileName, TrainingLog.HeldOutFileName })
            Assert.True(File.Exists(Path.Combine(export, file)), file);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(export, "commands.txt")).Length);
        using var model = SmallVideoModelFile.Read(Path.Combine(export, SmallVideoTrainer.ModelFileName));
        Assert.Equal(TinyFootage.Sources, model.Config.Sources);
    }

    [Fact]
    public void ProfileWritesNothing()
    {
        Assert.Equal(0, Invoke("--profile", "--data", data, "--model", "tiny", "--device", "cpu", "--max-steps", "2", "--batch", "2"));
        Assert.Single(Directory.GetFileSystemEntries(folder));
    }

    [Theory]
    [InlineData("--lr 0.1", "does not use --lr")]
    [InlineData("--steps 9", "does not use --steps")]
    [InlineData("--run elsewhere", "does not use --run")]
    public void AResumeRefusesRecipeOptions(string arguments, string message)
    {
        string run = Path.Combine(folder, "run");
        Assert.Equal(0, Invoke(Tiny(run, "--steps", "2")));
        var (code, error) = StandardError.Capture(() => Invoke(["--resume", run, "--device", "cpu", .. arguments.Split(' ')]));
        Assert.Equal(2, code);
        Assert.Contains(message, error);
    }

    [Fact]
    public void UnusableRequestsGetOneLine()
    {
        string run = Path.Combine(folder, "run");
        var (code, error) = StandardError.Capture(() => Invoke(Tiny(run)));
        Assert.Equal(2, code);
        Assert.Contains("--steps or --budget-minutes", error);

        Assert.Equal(0, Invoke(Tiny(run, "--steps", "1")));
        (code, error) = StandardError.Capture(() => Invoke(Tiny(run, "--steps", "1")));
        Assert.Equal(2, code);
        Assert.Contains("already holds a run", error);

        (code, error) = StandardError.Capture(() => Invoke("--resume", Path.Combine(folder, "none"), "--device", "cpu"));
        Assert.Equal(2, code);
        Assert.Contains("No training checkpoint", error);

        (code, error) = StandardError.Capture(() => Invoke(Tiny(Path.Combine(folder, "b"), "--steps", "5", "--budget-minutes", "3")));
        Assert.Equal(2, code);
        Assert.Contains("not both", error);
    }
}
