using Svg2.Models.Schedulers;
using Svg2.Models.Training;
using Svg2.Tests.Small;
using static TorchSharp.torch;

namespace Svg2.Tests.Training;

public sealed class TrainingPartsTests
{
    [Fact]
    public void TheScheduleWarmsUpThenFollowsHalfACosineToItsFloor()
    {
        var schedule = new LearningRateSchedule(1e-3, 10, LearningRateShape.Cosine, 0.1);
        Assert.Equal(1e-4, schedule.At(0, 110), 12);
        Assert.Equal(1e-3, schedule.At(9, 110), 12);
        Assert.Equal(1e-3, schedule.At(10, 110), 12);
        // Halfway through the decay (steps 10 to 108 of 109), halfway between peak and floor.
        Assert.Equal(0.55e-3, schedule.At(59, 109), 12);
        Assert.Equal(1e-4, schedule.At(109, 110), 12);
        Assert.Equal(1e-3, new LearningRateSchedule(1e-3, 10, LearningRateShape.Constant, 0.1).At(500, null));
        Assert.Throws<InvalidOperationException>(() => schedule.At(10, null));
    }

    [Fact]
    public void ShiftedLogitNormalLevelsHaveTheShiftedMedian()
    {
        using var generator = new Generator(4);
        var levels = FlowMatching.DrawLevels(20000, TimestepSampling.LogitNormal, 3.0, generator);
        Assert.All(levels, t => Assert.InRange(t, 0, 1));
        double median = levels.Order().ElementAt(levels.Length / 2);
        Assert.InRange(median, FlowShift.Apply(0.5, 3.0) - 0.01, FlowShift.Apply(0.5, 3.0) + 0.01);
        using var uniform = new Generator(4);
        var flat = FlowMatching.DrawLevels(20000, TimestepSampling.Uniform, 1.0, uniform);
        Assert.InRange(flat.Average(), 0.49, 0.51);
    }

    [Fact]
    public void TheNoisySampleMovesFromDataToNoiseAndTheTargetIsTheirDifference()
    {
        var x0 = TestTensors.Normal(1, [3, 2, 4]);
        var noise = TestTensors.Normal(2, [3, 2, 4]);
        using var noisy = FlowMatching.NoisySample(x0, noise, tensor(new[] { 0f, 1f, 0.25f }));
        Assert.True(TestTensors.Same(noisy[0], x0[0]));
        Assert.True(TestTensors.Same(noisy[1], noise[1]));
        Assert.True(TestTensors.RelativeError(noisy[2], x0[2] * 0.75 + noise[2] * 0.25) < 1e-7);
        Assert.True(TestTensors.Same(FlowMatching.Target(x0, noise), noise - x0));
    }

    [Fact]
    public void StepNoiseDependsOnTheSeedAndTheStepAlone()
    {
        using var noise = new StepNoise(5, CPU);
        using var third = noise.Draw([2, 3], 3);
        using var first = noise.Draw([2, 3], 1);
        using var again = new StepNoise(5, CPU);
        Assert.True(TestTensors.Same(third, again.Draw([2, 3], 3)));
        Assert.False(TestTensors.Same(third, first));
        using var otherRun = new StepNoise(6, CPU);
        Assert.False(TestTensors.Same(third, otherRun.Draw([2, 3], 3)));
        Assert.NotEqual(StepNoise.SeedOf(0, 1), StepNoise.SeedOf(1, 0));
        Assert.True(StepNoise.SeedOf(-3, int.MaxValue) >= 0);
    }

    [Fact]
    public void Bf16ComputeHandsFloat32GradientsToTheMasterWeights()
    {
        using var master = TinyFootage.Model(3);
        using var buffer = ParameterBuffer.Flatten(master, gradients: true);
        using var replica = new ComputeReplica(master, buffer, ScalarType.BFloat16);
        replica.Refresh();
        foreach (var ((name, m), (_, r)) in master.named_parameters().Zip(replica.Model.named_parameters()))
            Assert.True(TestTensors.Same(r, m.to(ScalarType.BFloat16)), name);
        var latents = TestTensors.Normal(4, [2, 48, 3, 4, 4]);
        using var flow = replica.Model.PredictFlowWithGradients(latents, tensor(new[] { 100f, 900f }), tensor(new long[] { 0, 3 }));
        FlowMatching.Loss(flow, TestTensors.Normal(5, [2, 48, 3, 4, 4])).backward();
        var replicaGradients = replica.Model.parameters().Select(r => r.grad!.clone()).ToList();
        replica.MoveGradientsToMaster();
        foreach (var (((name, m), (_, r)), before) in master.named_parameters().Zip(replica.Model.named_parameters()).Zip(replicaGradients))
        {
            Assert.Equal(0, r.grad!.count_nonzero().item<long>());
            Assert.Equal(ScalarType.Float32, m.grad!.dtype);
            Assert.True(TestTensors.Same(m.grad!, before.to(ScalarType.Float32)), name);
        }
        // The zero head stops every gradient but its own at the first step.
        var head = master.named_parameters().Single(p => p.name == "transformer.head.head.weight").parameter;
        Assert.True(head.grad!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void TheMovingAverageWarmsUpItsDecay()
    {
        using var average = TinyFootage.Model(5);
        using var weights = TinyFootage.Model(6);
        using var buffer = ParameterBuffer.Flatten(weights, gradients: false);
        using var ema = new ExponentialMovingAverage(average, 0.999);
        Assert.Equal(0.1, ema.DecayAt(0), 12);
        Assert.Equal(0.999, ema.DecayAt(100000), 12);
        var before = average.parameters().First().detach().clone();
        var target = weights.parameters().First();
        ema.Update(buffer, 0);
        Assert.True(TestTensors.RelativeError(average.parameters().First(), before * 0.1 + target * 0.9) < 1e-6);
    }

    [Fact]
    public void TheGridPlacesEvenlySpacedFramesInRows()
    {
        Assert.Equal(new long[] { 0, 4, 8 }, SampleGrid.FrameIndices(9, 3));
        var first = full(new long[] { 1, 3, 9, 4, 6 }, -1f);
        var second = TestTensors.Normal(7, [1, 3, 9, 4, 6]).clamp(-1, 1);
        using var grid = SampleGrid.Compose([first, second], 3);
        Assert.Equal(new long[] { 2 * 4 + SampleGrid.Gap, 3 * 6 + 2 * SampleGrid.Gap, 3 }, grid.shape);
        Assert.Equal(ScalarType.Byte, grid.dtype);
        Assert.Equal(0, grid[0, 0, 0].item<byte>());
        Assert.Equal(255, grid[4, 0, 0].item<byte>());
        var expected = ((second[0, 1, 8, 3, 5] + 1) * 127.5).round().to(ScalarType.Byte).item<byte>();
        Assert.Equal(expected, grid[4 + SampleGrid.Gap + 3, 2 * (6 + SampleGrid.Gap) + 5, 1].item<byte>());
    }
}
