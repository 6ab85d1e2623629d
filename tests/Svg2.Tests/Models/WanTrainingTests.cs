using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Tests.Models;

public sealed class WanTrainingTests
{
    [Fact]
    public void TheGradientForwardEqualsTheReferenceForwardAndReachesEveryParameter()
    {
        var config = TinyWan.Config();
        using var model = TinyWan.Model(11, config);
        model.Numerics = WanNumerics.Reference;
        var inputs = TinyWan.Inputs(12, config, batch: 2);
        using var expected = model.Forward(inputs);
        foreach (var parameter in model.parameters()) parameter.requires_grad = true;
        using var output = model.ForwardWithGradients(inputs);
        Assert.True(output.requires_grad);
        Assert.True(TinyWan.RelativeError(output, expected) < 1e-6);
        output.square().sum().backward();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var gradient = parameter.grad;
            Assert.True(gradient is not null, $"{name} has no gradient");
            Assert.True(gradient!.abs().sum().item<float>() > 0, $"{name} has a zero gradient");
        }
    }

    [Fact]
    public void WanInitialisationZeroesTheHeadAndBoundsTheLinearWeights()
    {
        var config = TinyWan.Config();
        using var model = new WanModel(config);
        using var generator = new Generator(5);
        WanInitialisation.Apply(model, generator);
        using var output = model.Forward(TinyWan.Inputs(6, config));
        Assert.Equal(0.0, output.abs().max().item<float>());

        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        double bound = Math.Sqrt(6.0 / (config.Dim + config.Dim));
        var q = parameters["blocks.0.self_attn.q.weight"];
        Assert.True(q.abs().max().item<float>() <= bound);
        Assert.InRange(q.std().item<float>(), 0.8 * bound / Math.Sqrt(3), 1.2 * bound / Math.Sqrt(3));
        Assert.Equal(0.0, parameters["blocks.0.ffn.0.bias"].abs().sum().item<float>());
        Assert.InRange(parameters["time_embedding.0.weight"].std().item<float>(), 0.015, 0.025);
        Assert.Equal(1.0, parameters["blocks.0.norm3.weight"].mean().item<float>());
    }

    [Fact]
    public void TheSameSeedGivesTheSameInitialWeights()
    {
        var config = TinyWan.Config();
        manual_seed(2);
        using var a = new WanModel(config);
        using var b = new WanModel(config);
        using (var generator = new Generator(9)) WanInitialisation.Apply(a, generator);
        using (var generator = new Generator(9)) WanInitialisation.Apply(b, generator);
        manual_seed(1);
        using var c = new WanModel(config);
        using (var generator = new Generator(9)) WanInitialisation.Apply(c, generator);
        foreach (var ((name, x), (_, y), (_, z)) in a.named_parameters().Zip(b.named_parameters(), c.named_parameters()))
        {
            Assert.True(TestTensors.Same(x, y), name);
            Assert.True(TestTensors.Same(x, z), name);
        }
    }
}
