using Svg2.Models.Checkpoints;
using Svg2.Models.Small;
using Svg2.Models.Training;
using Svg2.Models.Wan;
using Svg2.Tests.Small;
using static TorchSharp.torch;

namespace Svg2.Tests.Training;

public sealed class ExportTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-export-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void TheExportedModelPredictsAsTheMovingAverage()
    {
        using var data = TinyFootage.Dataset(7);
        using var trainer = SmallVideoTrainer.Start(data, "tiny.safetensors", TinyFootage.Options(6), CPU, Path.Combine(folder, "run"));
        trainer.Run(null, null);
        string path = trainer.Export(Path.Combine(folder, "export"));
        Assert.True(File.Exists(Path.Combine(folder, "export", TrainingLog.StepFileName)));

        using var exported = SmallVideoModelFile.Read(path);
        Assert.Equal(ScalarType.Float32, exported.WeightType);
        Assert.Equal(trainer.Config with { Sources = [] }, exported.Config with { Sources = [] });
        Assert.Equal(TinyFootage.Sources, exported.Config.Sources);
        Assert.Equal(8.0, exported.Config.Fps);
        Assert.Equal(trainer.Weights.Codec.Normalisation.Mean, exported.Codec.Normalisation.Mean);
        Assert.Equal(trainer.Options.Shift, exported.Sampling.Shift);
        using var stored = Svg2.IO.SafeTensorsFile.Open(path);
        Assert.All(stored.Names, name => Assert.Equal(ScalarType.BFloat16, stored.Info(name).Type));

        var latents = TestTensors.Normal(8, [2, 48, 3, 4, 4]);
        var timesteps = tensor(new[] { 250f, 800f });
        var sources = tensor(new long[] { 1, 3 });
        var average = trainer.Average;
        average.Transformer.Numerics = WanNumerics.Reference;
        exported.Transformer.Numerics = WanNumerics.Reference;
        using var expected = average.PredictFlow(latents, timesteps, sources);
        using var actual = exported.PredictFlow(latents, timesteps, sources);
        Assert.True(TestTensors.RelativeError(actual, expected) < 2e-2);

        // Rounding the average's weights to bf16 gives the exported weights exactly, so the same forward.
        using var rounded = SmallVideoModelFile.Read(path);
        foreach (var ((_, r), (_, a)) in rounded.named_parameters().Zip(average.named_parameters()))
            Assert.True(TestTensors.Same(r, a.to(ScalarType.BFloat16).to(ScalarType.Float32)));
    }

    [Fact]
    public void AFileWithoutTheModelMetadataIsRefused()
    {
        using var model = TinyFootage.Model(1);
        string path = Path.Combine(folder, "plain.safetensors");
        Svg2.IO.SafeTensorsWriter.Write(path, model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)));
        Assert.Contains("not a small video model file", Assert.Throws<CheckpointException>(() => SmallVideoModelFile.Read(path)).Message);
    }

    [Fact]
    public void AMissingTensorIsNamed()
    {
        using var model = TinyFootage.Model(2);
        string path = Path.Combine(folder, "model.safetensors");
        SmallVideoModelFile.Write(model, path, ScalarType.BFloat16);
        var (config, normalisation, sampling, _) = SmallVideoModelFile.ReadMetadata(path);
        using var deeper = new SmallVideoModel(config with { Layers = 3 }, normalisation, sampling);
        string deeperPath = Path.Combine(folder, "deeper.safetensors");
        SmallVideoModelFile.Write(deeper, deeperPath, ScalarType.BFloat16);
        using var file = Svg2.IO.SafeTensorsFile.Open(deeperPath);
        var kept = file.Names.Where(n => !n.StartsWith("transformer.blocks.2.")).ToDictionary(n => n, file.Read);
        var metadata = file.Metadata.ToDictionary(p => p.Key, p => p.Value);
        string broken = Path.Combine(folder, "broken.safetensors");
        Svg2.IO.SafeTensorsWriter.Write(broken, kept, metadata);
        Assert.Contains("transformer.blocks.2.", Assert.Throws<CheckpointException>(() => SmallVideoModelFile.Read(broken)).Message);
    }
}
