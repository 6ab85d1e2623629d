using Svg2.Models.Small;
using static TorchSharp.torch;

namespace Svg2.Tests.Small;

public sealed class SmallVideoSamplerTests
{
    static SmallVideoModel TrainedLooking(int seed)
    {
        var model = TinyFootage.Model(seed);
        // A non-zero head, so that sampling moves away from the noise.
        using var noGrad = no_grad();
        var head = model.named_parameters().Single(p => p.name == "transformer.head.head.weight").parameter;
        head.copy_(TestTensors.Normal(seed + 1, head.shape) * 0.05);
        return model;
    }

    [Fact]
    public void ASeedGivesOneVideoOfTheTrainedSize()
    {
        using var model = TrainedLooking(1);
        var sampler = new SmallVideoSampler(model);
        var sampling = new SmallVideoSampling(4, 3.0, 3.0);
        using var first = sampler.Generate("forest", 7, sampling);
        using var again = sampler.Generate("FOREST", 7, sampling);
        using var other = sampler.Generate("forest", 8, sampling);
        Assert.Equal(new long[] { 1, 3, 3, 16, 16 }, first.shape);
        Assert.True(first.abs().max().item<float>() <= 1);
        Assert.True(TestTensors.Same(first, again));
        Assert.False(TestTensors.Same(first, other));
    }

    [Fact]
    public void OtherSizesAndSourcesAreCheckedFirst()
    {
        using var model = TrainedLooking(2);
        var sampler = new SmallVideoSampler(model);
        using var wide = sampler.Generate("street", 1, new SmallVideoSampling(2, 1.0, 3.0), frames: 2, width: 24);
        Assert.Equal(new long[] { 1, 3, 2, 16, 24 }, wide.shape);
        Assert.Contains("multiple of 8x8", Assert.Throws<ArgumentException>(() => sampler.Generate("street", 1, width: 20)).Message);
        Assert.Contains("harbour, forest, street", Assert.Throws<ArgumentException>(() => sampler.Generate("desert", 1)).Message);
        Assert.Contains("Name a footage source", Assert.Throws<ArgumentException>(() => sampler.Generate("", 1)).Message);
    }

    [Fact]
    public void TheBuiltInModelIsLookedForNextToTheApplication()
    {
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "models", "small-footage", "model.safetensors"), BuiltInSmallModel.ExpectedPath);
        if (BuiltInSmallModel.IsAvailable)
        {
            using var model = BuiltInSmallModel.Load();
            Assert.NotEmpty(model.Config.Sources);
            Assert.Equal(ScalarType.Float32, model.WeightType);
        }
        else
        {
            Assert.Contains("svg2 train", Assert.Throws<FileNotFoundException>(() => BuiltInSmallModel.Load()).Message);
        }
    }

    [Fact]
    public void TheBuiltInModelTakesFewerStepsOnTheCpu()
    {
        Assert.True(BuiltInSmallModel.IsAvailable, $"the built-in model is missing at {BuiltInSmallModel.ExpectedPath}");
        using var model = Svg2.Models.Pipelines.VideoModels.Load(null, new Svg2.Models.Pipelines.VideoModelOptions(CPU, ScalarType.Float32));
        using var file = BuiltInSmallModel.Load();
        Assert.Equal(Math.Min(file.Sampling.Steps, Svg2.Models.Pipelines.VideoModels.BuiltInCpuSteps), model.Defaults.Steps);
        Assert.True(model.Defaults.Steps < file.Sampling.Steps, "the CPU default must be shorter than the GPU's");
    }
}
