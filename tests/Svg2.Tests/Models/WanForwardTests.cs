using Svg2.Models.Attention;
using Svg2.Models.Sampling;
using Svg2.Models.Schedulers;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Tests.Models;

public class WanForwardTests
{
    sealed class Recording(ISelfAttentionProcessor inner) : ISelfAttentionProcessor
    {
        public List<AttentionCall> Calls { get; } = [];

        public Tensor Process(AttentionCall call)
        {
            Calls.Add(call with { Query = call.Query.clone().DetachFromDisposeScope(), Key = call.Key.clone().DetachFromDisposeScope(), Value = call.Value.clone().DetachFromDisposeScope() });
            return inner.Process(call);
        }
    }

    [Theory]
    [InlineData(WanModelType.TextToVideo)]
    [InlineData(WanModelType.ImageToVideo)]
    public void ForwardPredictsAFlowOfTheLatentShape(WanModelType type)
    {
        var config = TinyWan.Config(type);
        using var model = TinyWan.Model(1, config);
        var inputs = TinyWan.Inputs(2, config, batch: 2, frames: 3, height: 6, width: 10);
        using var output = model.Forward(inputs);
        Assert.Equal(new long[] { 2, 4, 3, 6, 10 }, output.shape);
        Assert.Equal(ScalarType.Float32, output.dtype);
        Assert.True(output.isfinite().all().item<bool>());
        Assert.True(output.std().item<float>() > 1e-3f);
    }

    [Fact]
    public void TheProcessorSeesEveryLayerWithNormalisedRotatedHeads()
    {
        var config = TinyWan.Config(layers: 3);
        using var model = TinyWan.Model(1, config);
        using (no_grad())
            foreach (var block in model.Blocks) block.SelfAttention.NormQ.Weight.fill_(1.0);
        var recording = new Recording(DenseAttentionProcessor.Instance);
        model.SelfAttentionProcessor = recording;
        using var _ = model.Forward(TinyWan.Inputs(2, config, frames: 2, height: 4, width: 6), new ForwardContext(7, 1));

        Assert.Equal([0, 1, 2], recording.Calls.Select(c => c.Layer));
        foreach (var call in recording.Calls)
        {
            Assert.Equal((7, 1, 1), (call.Step, call.FirstPass, call.PassCount));
            Assert.Equal(new LatentGrid(2, 2, 3), call.Grid);
            Assert.Equal(new long[] { 1, 2, 12, 12 }, call.Query.shape);
            // With a unit norm weight, RMSNorm across the full width gives every token a squared norm
            // of 24 summed over both heads, and the rotation keeps it; each head alone does not.
            using var tokenNorms = call.Query.pow(2).sum([1, 3]);
            Assert.True((tokenNorms - 24).abs().max().item<float>() < 1e-3f);
            using var headNorms = call.Query.pow(2).sum(3);
            Assert.True((headNorms - 12).abs().max().item<float>() > 0.1f);
        }
    }

    [Fact]
    public void PatchEmbeddingEqualsTheStridedConvolution()
    {
        var config = TinyWan.Config();
        using var model = TinyWan.Model(1, config);
        using var latents = randn([2, 4, 3, 6, 10], generator: new Generator(5));
        using var convolved = nn.functional.conv3d(latents, model.PatchEmbedding.weight!, model.PatchEmbedding.bias, strides: [1, 2, 2]);
        using var expected = convolved.flatten(2).transpose(1, 2);
        using var actual = model.EmbedPatches(latents, model.GridFor(3, 6, 10));
        Assert.True(TinyWan.RelativeError(actual, expected) < 1e-6);
    }

    [Fact]
    public void BatchedGuidanceEqualsTwoPasses()
    {
        var config = TinyWan.Config();
        using var model = TinyWan.Model(1, config);
        var a = TinyWan.Inputs(3, config);
        var b = TinyWan.Inputs(4, config);
        using var one = model.Forward(a);
        using var two = model.Forward(b);
        var batched = new WanInputs(cat([a.Latents, b.Latents]), cat([a.Timesteps, b.Timesteps]), cat([a.Context, b.Context]));
        using var both = model.Forward(batched, new ForwardContext(0, 0, 2));
        Assert.True(TinyWan.RelativeError(both, cat([one, two])) < 1e-5);
    }

    [Fact]
    public void ShortPromptsArePaddedWithZeroTokens()
    {
        var config = TinyWan.Config();
        using var model = TinyWan.Model(1, config);
        var inputs = TinyWan.Inputs(3, config, textTokens: 3);
        var padded = inputs with { Context = cat([inputs.Context, zeros(1, config.TextLength - 3, config.TextDim)], 1) };
        using var a = model.Forward(inputs);
        using var b = model.Forward(padded);
        Assert.True(TinyWan.RelativeError(a, b) < 1e-6);
    }

    [Fact]
    public void Bf16WeightsTrackFloat32()
    {
        var config = TinyWan.Config();
        using var reference = TinyWan.Model(1, config, ScalarType.BFloat16);
        using var full = TinyWan.Model(9, config);
        using (no_grad())
            foreach (var ((_, p32), (_, p16)) in full.named_parameters().Zip(reference.named_parameters()))
                p32.copy_(p16);
        var inputs = TinyWan.Inputs(3, config);
        using var low = reference.Forward(inputs);
        using var high = full.Forward(inputs);
        Assert.Equal(ScalarType.Float32, low.dtype);
        double error = TinyWan.RelativeError(low, high);
        Assert.True(error < 5e-2 && error > 0, $"bf16 relative error {error}");
    }

    [Fact]
    public void ImageToVideoSamplingGivesTheSameResultBatchedOrInTwoPasses()
    {
        var config = TinyWan.Config(WanModelType.ImageToVideo);
        using var model = TinyWan.Model(1, config);
        var inputs = TinyWan.Inputs(6, config);
        using var uncond = randn([1, 2, config.TextDim], generator: new Generator(3));
        var sampler = new WanSampler(model);
        using var batched = sampler.Sample(inputs.Latents, inputs.Context, uncond, new FlowUniPCScheduler(3), 5.0,
            GuidanceMode.Batched, inputs.ClipFeatures, inputs.ImageCondition);
        using var sequential = sampler.Sample(inputs.Latents, inputs.Context, uncond, new FlowUniPCScheduler(3), 5.0,
            GuidanceMode.Sequential, inputs.ClipFeatures, inputs.ImageCondition);
        Assert.Equal(inputs.Latents.shape, batched.shape);
        Assert.True(TinyWan.RelativeError(batched, sequential) < 1e-5);
        Assert.True(TinyWan.RelativeError(batched, inputs.Latents) > 1e-2);
    }

    [Fact]
    public void RejectsInputsOfTheWrongShape()
    {
        var config = TinyWan.Config();
        using var model = TinyWan.Model(1, config);
        var inputs = TinyWan.Inputs(3, config);
        Assert.Contains("divisible", Assert.Throws<ArgumentException>(() => model.Forward(inputs with { Latents = randn([1, 4, 2, 7, 8]) })).Message);
        Assert.Contains("Context", Assert.Throws<ArgumentException>(() => model.Forward(inputs with { Context = randn(1, 5, 7) })).Message);
        Assert.Contains("CLIP", Assert.Throws<ArgumentException>(() => model.Forward(inputs with { ClipFeatures = randn(1, 3, 12) })).Message);
    }
}
