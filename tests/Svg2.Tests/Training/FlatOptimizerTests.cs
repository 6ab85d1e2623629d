using Svg2.Models.Training;
using Svg2.Tests.Small;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Training;

/// <summary>The parameter buffer and the AdamW over it: the same values, gradients and updates as per-parameter tensors.</summary>
public sealed class FlatOptimizerTests
{
    [Fact]
    public void FlatteningKeepsEveryParameterAndMakesItAViewOfTheBuffer()
    {
        using var model = TinyFootage.Model(11);
        model.RequireGradients(true);
        var before = model.named_parameters().Select(p => (p.name, Value: p.parameter.detach().clone())).ToList();
        using var buffer = ParameterBuffer.Flatten(model, gradients: true);
        Assert.Equal(before.Sum(p => p.Value.numel()), buffer.Values.numel());
        Assert.Equal(before.Select(p => p.name), buffer.Names);
        foreach (var ((name, parameter), (_, value)) in model.named_parameters().Zip(before))
        {
            Assert.True(TestTensors.Same(parameter, value), name);
            Assert.True(parameter.is_leaf && parameter.requires_grad, name);
        }
        // A write to the buffer is a write to the parameters, and their gradients are the gradient buffer's.
        using (no_grad()) buffer.Values.mul_(2);
        buffer.Gradients.fill_(3);
        foreach (var ((name, parameter), (_, value)) in model.named_parameters().Zip(before))
        {
            Assert.True(TestTensors.Same(parameter, value * 2), name);
            Assert.Equal(parameter.numel(), parameter.grad!.eq(3).sum().item<long>());
        }
    }

    [Fact]
    public void BackwardAccumulatesIntoTheGradientBuffer()
    {
        var weight = new TorchSharp.Modules.Parameter(TestTensors.Normal(21, [3, 4]));
        var bias = new TorchSharp.Modules.Parameter(TestTensors.Normal(22, [4]));
        using var module = new TwoParameters(weight, bias);
        using var buffer = ParameterBuffer.Flatten(module, gradients: true);
        var x = TestTensors.Normal(23, [5, 3]);
        (x.matmul(weight) + bias).square().sum().backward();
        var first = buffer.Gradients.clone();
        var expectedWeight = x.t().matmul(2 * (x.matmul(weight) + bias)).detach();
        Assert.True(TestTensors.RelativeError(buffer.Split(buffer.Gradients).First().View, expectedWeight) < 1e-5);
        (x.matmul(weight) + bias).square().sum().backward();
        Assert.True(TestTensors.RelativeError(buffer.Gradients, first * 2) < 1e-6);
        buffer.ZeroGradients();
        Assert.Equal(0, buffer.Gradients.count_nonzero().item<long>());
    }

    [Fact]
    public void FlatAdamWMatchesTorchSharpsAdamWOverSeveralSteps()
    {
        var reference = Enumerable.Range(0, 3).Select(i => new TorchSharp.Modules.Parameter(TestTensors.Normal(31 + i, [7 + i, 5]))).ToList();
        using var module = new TwoParameters(new TorchSharp.Modules.Parameter(reference[0].detach().clone()), new TorchSharp.Modules.Parameter(reference[1].detach().clone()));
        using var buffer = ParameterBuffer.Flatten(module, gradients: true);
        using var flat = new FlatAdamW(buffer, 0.9, 0.99, 1e-8, 0.01);
        using var adam = optim.AdamW(reference.Take(2), 1e-3, 0.9, 0.99, 1e-8, 0.01);
        var flatParameters = module.parameters().ToList();
        for (int step = 0; step < 5; step++)
        {
            double learningRate = 1e-3 * (step + 1);
            foreach (var group in adam.ParamGroups) group.LearningRate = learningRate;
            for (int i = 0; i < 2; i++)
            {
                var gradient = TestTensors.Normal(100 + 10 * step + i, reference[i].shape);
                reference[i].grad = gradient.clone();
                flatParameters[i].grad!.copy_(gradient);
            }
            adam.step();
            flat.Step(learningRate);
        }
        Assert.Equal(5, flat.Steps);
        for (int i = 0; i < 2; i++) Assert.True(TestTensors.RelativeError(flatParameters[i], reference[i]) < 1e-6, $"parameter {i}");
    }

    [Fact]
    public void ClippingScalesTheGradientsToTheLimitAndReportsTheNormBefore()
    {
        using var module = new TwoParameters(new TorchSharp.Modules.Parameter(zeros(2, 2)), new TorchSharp.Modules.Parameter(zeros(3)));
        using var buffer = ParameterBuffer.Flatten(module, gradients: true);
        using var adam = new FlatAdamW(buffer, 0.9, 0.99, 1e-8, 0);
        buffer.Gradients.copy_(tensor(new[] { 3f, 0, 0, 0, 4, 0, 0 }));
        Assert.Equal(5, adam.ClipGradientNorm(1), 5);
        Assert.Equal(1, buffer.Gradients.norm().item<float>(), 5);
        Assert.Equal(1, adam.ClipGradientNorm(10), 5);
        Assert.Equal(1, buffer.Gradients.norm().item<float>(), 5);
    }

    [Fact]
    public void OneBufferNeedsOneDtype()
    {
        using var module = new TwoParameters(new TorchSharp.Modules.Parameter(zeros(2)), new TorchSharp.Modules.Parameter(zeros(2, ScalarType.Float64)));
        var error = Assert.Throws<ArgumentException>(() => ParameterBuffer.Flatten(module, gradients: false));
        Assert.Contains("Float64", error.Message);
    }

    sealed class TwoParameters : nn.Module
    {
        readonly TorchSharp.Modules.Parameter first, second;

        public TwoParameters(TorchSharp.Modules.Parameter first, TorchSharp.Modules.Parameter second) : base(nameof(TwoParameters))
        {
            (this.first, this.second) = (first, second);
            RegisterComponents();
        }
    }
}
