using Svg2.Models.Training;
using Svg2.Tests.Small;
using static TorchSharp.torch;

namespace Svg2.Tests.Training;

public sealed class TrainingRunTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-train-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void TheTrainingLossFalls()
    {
        using var data = TinyFootage.Dataset(1);
        using var trainer = SmallVideoTrainer.Start(data, "tiny.safetensors", TinyFootage.Options(40), CPU, runFolder: null);
        double untrained = trainer.EvaluateHeldOut().Average.Mean;
        var losses = Enumerable.Range(0, 40).Select(_ => trainer.TrainStep().Loss).ToArray();
        double first = losses.Take(5).Average(), last = losses.TakeLast(10).Average();
        Assert.True(last < 0.85 * first, $"loss went from {first:F4} (first 5 steps) to {last:F4} (last 10)");
        double trained = trainer.EvaluateHeldOut().Average.Mean;
        Assert.True(trained < 0.85 * untrained, $"held-out loss went from {untrained:F4} to {trained:F4}");
        Assert.True(trainer.Finished);
    }

    [Fact]
    public void AResumedRunEqualsAnUninterruptedOne()
    {
        var options = TinyFootage.Options(8) with { EvalEvery = 3 };
        using var data = TinyFootage.Dataset(2);
        string whole = Path.Combine(folder, "whole"), split = Path.Combine(folder, "split");
        using (var trainer = SmallVideoTrainer.Start(data, "tiny.safetensors", options, CPU, whole))
            trainer.Run(null, null);
        using (var trainer = SmallVideoTrainer.Start(data, "tiny.safetensors", options, CPU, split))
        {
            trainer.Run(null, maxSteps: 5);
            Assert.Equal(5, trainer.Step);
            Assert.False(trainer.Finished);
        }
        using var resumed = SmallVideoTrainer.Resume(split, data, "copy-of-tiny.safetensors", CPU);
        Assert.Equal(5, resumed.Step);
        resumed.Run(null, null);
        Assert.True(resumed.Finished);

        using var reference = SmallVideoTrainer.Resume(whole, data, "tiny.safetensors", CPU);
        Assert.Equal(8, reference.Step);
        foreach (var ((name, a), (_, b)) in reference.Weights.named_parameters().Zip(resumed.Weights.named_parameters()))
            Assert.True(TestTensors.Same(a, b), $"weights of {name} differ");
        foreach (var ((name, a), (_, b)) in reference.Average.named_parameters().Zip(resumed.Average.named_parameters()))
            Assert.True(TestTensors.Same(a, b), $"moving average of {name} differs");
        Assert.Equal(File.ReadAllLines(Path.Combine(whole, TrainingLog.StepFileName)).Select(WithoutSeconds),
            File.ReadAllLines(Path.Combine(split, TrainingLog.StepFileName)).Select(WithoutSeconds));
        Assert.Equal(File.ReadAllLines(Path.Combine(whole, TrainingLog.HeldOutFileName)), File.ReadAllLines(Path.Combine(split, TrainingLog.HeldOutFileName)));
    }

    [Fact]
    public void ARunStartsFromAnExportedModelsWeightsAndStatistics()
    {
        using var data = TinyFootage.Dataset(6);
        string exported = Path.Combine(folder, "exported.safetensors");
        using (var first = SmallVideoTrainer.Start(data, "tiny.safetensors", TinyFootage.Options(3), CPU, runFolder: null))
        {
            first.Run(null, null);
            Svg2.Models.Small.SmallVideoModelFile.Write(first.Average, exported, ScalarType.Float32);
        }
        using var saved = Svg2.Models.Small.SmallVideoModelFile.Read(exported);
        using var continued = SmallVideoTrainer.Start(data, "tiny.safetensors", TinyFootage.Options(3) with { InitialWeights = exported, Seed = 11 }, CPU, runFolder: null);
        foreach (var ((name, a), (_, b)) in saved.named_parameters().Zip(continued.Weights.named_parameters()))
            Assert.True(TestTensors.Same(a, b), $"the run's {name} is not the exported model's");
        foreach (var ((name, a), (_, b)) in saved.named_parameters().Zip(continued.Average.named_parameters()))
            Assert.True(TestTensors.Same(a, b), $"the moving average's {name} is not the exported model's");
        Assert.Equal(saved.Codec.Normalisation.Mean, continued.Weights.Codec.Normalisation.Mean);
        Assert.Equal(saved.Codec.Normalisation.Std, continued.Weights.Codec.Normalisation.Std);

        using var other = TinyFootage.Dataset(7, width: 32);
        var error = Assert.Throws<ArgumentException>(() => SmallVideoTrainer.Start(other, "other.safetensors", TinyFootage.Options(3) with { InitialWeights = exported }, CPU, runFolder: null));
        Assert.Contains("configuration", error.Message);
    }

    static string WithoutSeconds(string row) => row[..row.LastIndexOf(',')];

    [Fact]
    public void AResumeWithOtherClipsIsRefused()
    {
        using var data = TinyFootage.Dataset(3);
        string run = Path.Combine(folder, "run");
        using (var trainer = SmallVideoTrainer.Start(data, "tiny.safetensors", TinyFootage.Options(4), CPU, run))
            trainer.Run(null, maxSteps: 2);
        using var other = TinyFootage.Dataset(4);
        var error = Assert.Throws<ArgumentException>(() => SmallVideoTrainer.Resume(run, other, "other.safetensors", CPU));
        Assert.Contains("differ", error.Message);
        Assert.Throws<FileNotFoundException>(() => SmallVideoTrainer.Resume(Path.Combine(folder, "nothing"), data, "tiny.safetensors", CPU));
    }

    [Fact]
    public void HeldOutLossIsFixedAndEqualsTheTargetPowerForTheUntrainedModel()
    {
        using var data = TinyFootage.Dataset(5);
        using var trainer = SmallVideoTrainer.Start(data, "tiny.safetensors", TinyFootage.Options(4), CPU, runFolder: null);
        var (weights, average) = trainer.EvaluateHeldOut();
        // An untrained model predicts zero flow, so its loss at each level is the mean square of noise - x0.
        using var batches = new ClipBatches(data, trainer.Weights.Codec, CPU, horizontalFlip: false);
        var (x0, _) = batches.HeldOut();
        using var generator = new Generator((ulong)HeldOutEvaluation.NoiseSeed);
        for (int level = 0; level < 4; level++)
        {
            var noise = randn(x0.shape, ScalarType.Float32, generator: generator);
            double expected = (noise - x0).to(ScalarType.Float64).square().mean().item<double>();
            Assert.True(Math.Abs(weights.PerLevel[level] - expected) < 1e-6 * expected, $"level {level}: {weights.PerLevel[level]} against {expected}");
        }
        Assert.Equal(weights.Mean, average.Mean);
        trainer.TrainStep();
        trainer.TrainStep();
        var (again, _) = trainer.EvaluateHeldOut();
        var (once, _) = trainer.EvaluateHeldOut();
        Assert.Equal(again.PerLevel, once.PerLevel);
        Assert.NotEqual(weights.Mean, again.Mean);
    }

    [Fact]
    public void ANonFiniteLossStopsTrainingBeforeTheUpdate()
    {
        using var data = TinyFootage.Dataset(9);
        using var trainer = SmallVideoTrainer.Start(data, "tiny.safetensors", TinyFootage.Options(3), CPU, runFolder: null);
        var bias = trainer.Weights.named_parameters().Single(p => p.name == "transformer.head.head.bias").parameter;
        using (no_grad()) bias.fill_(float.NaN);
        var before = trainer.Weights.named_parameters().First().parameter.detach().clone();
        Assert.Contains("diverged at step 1", Assert.Throws<InvalidOperationException>(() => trainer.TrainStep()).Message);
        Assert.True(TestTensors.Same(before, trainer.Weights.named_parameters().First().parameter.detach()));
        Assert.Equal(0, trainer.Step);
    }

    [Fact]
    public void WithoutHeldOutClipsTheHeldOutLossIsNaN()
    {
        using var data = TinyFootage.Dataset(8, heldOut: 0);
        using var trainer = SmallVideoTrainer.Start(data, "tiny.safetensors", TinyFootage.Options(2), CPU, Path.Combine(folder, "run"));
        trainer.Run(null, null);
        Assert.True(trainer.Finished);
        Assert.All(TrainingLog.ReadHeldOut(Path.Combine(folder, "run", TrainingLog.HeldOutFileName)), row => Assert.True(double.IsNaN(row.Mean)));
    }

    [Fact]
    public void ATimeBudgetFixesTheStepCountAfterCalibration()
    {
        using var data = TinyFootage.Dataset(6);
        var options = TinyFootage.Options(1) with { Steps = null, BudgetMinutes = 60, WarmupSteps = TrainingOptions.CalibrationSteps };
        using var trainer = SmallVideoTrainer.Start(data, "tiny.safetensors", options, CPU, runFolder: null);
        trainer.Run(null, maxSteps: TrainingOptions.CalibrationSteps - 1);
        Assert.Null(trainer.TotalSteps);
        trainer.Run(null, maxSteps: 1);
        Assert.True(trainer.TotalSteps > TrainingOptions.CalibrationSteps);
    }
}
