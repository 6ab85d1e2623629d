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

    [Theory]
    [InlineData(WanNumerics.Reference)]
    [InlineData(WanNumerics.Fast)]
    public void ForwardMatchesAnIndependentFloat64Computation(WanNumerics numerics)
    {
        var config = TinyWan.Config(layers: 2);
        using var model = TinyWan.Model(1, config);
        model.Numerics = numerics;
        var inputs = TinyWan.Inputs(2, config, batch: 2, frames: 3, height: 6, width: 4, textTokens: 5);
        using var output = model.Forward(inputs);
        using var expected = ReferenceForward(model, config, inputs);
        Assert.True(TinyWan.RelativeError(output, expected) < 1e-5, $"relative error {TinyWan.RelativeError(output, expected)}");
    }

    /// <summary>
    /// The Wan 2.1 text-to-video forward written out from the public model's description in float64, from the
    /// parameters by their checkpoint names, with the workload's 3D RoPE (Svg2.Positional.Rope3D).
    /// </summary>
    static Tensor ReferenceForward(WanModel model, WanConfig config, WanInputs inputs)
    {
        var p = model.named_parameters().ToDictionary(n => n.name, n => n.parameter.detach().to(ScalarType.Float64));
        Tensor Linear(string name, Tensor x) => x.matmul(p[name + ".weight"].t()) + p[name + ".bias"];
        Tensor LayerNorm(Tensor x) => (x - x.mean([-1], keepdim: true)) / (x.var(-1, unbiased: false, keepdim: true) + config.Eps).sqrt();
        Tensor RmsNorm(Tensor x, string name) => x / (x.square().mean([-1], keepdim: true) + config.Eps).sqrt() * p[name + ".weight"];
        Tensor GeluTanh(Tensor x) => 0.5 * x * (1 + (Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x.pow(3))).tanh());
        Tensor Silu(Tensor x) => x * x.sigmoid();
        Tensor Heads(Tensor x) => x.view(x.shape[0], x.shape[1], config.Heads, -1).transpose(1, 2);
        Tensor Attention(Tensor q, Tensor k, Tensor v) =>
            (q.matmul(k.transpose(2, 3)) / Math.Sqrt(q.shape[3])).softmax(-1).matmul(v).transpose(1, 2).reshape(q.shape[0], q.shape[2], -1);

        var latents = inputs.Latents.to(ScalarType.Float64);
        long batch = latents.shape[0];
        int frames = (int)latents.shape[2], height = (int)latents.shape[3] / 2, width = (int)latents.shape[4] / 2;
        var x = nn.functional.conv3d(latents, p["patch_embedding.weight"], p["patch_embedding.bias"], strides: [1, 2, 2]).flatten(2).transpose(1, 2);

        int half = config.FreqDim / 2;
        var angles = outer(inputs.Timesteps.to(ScalarType.Float64), pow(10000.0, -arange(half, ScalarType.Float64) / half));
        var time = Linear("time_embedding.2", Silu(Linear("time_embedding.0", cat([angles.cos(), angles.sin()], 1))));
        var modulation = Linear("time_projection.1", Silu(time)).view(batch, 6, config.Dim);
        var context = cat([inputs.Context.to(ScalarType.Float64), zeros(batch, config.TextLength - inputs.Context.shape[1], config.TextDim, ScalarType.Float64)], 1);
        var text = Linear("text_embedding.2", GeluTanh(Linear("text_embedding.0", context)));

        var rope = new Svg2.Positional.Rope3D(config.HeadDim);
        for (int layer = 0; layer < config.Layers; layer++)
        {
            string b = $"blocks.{layer}";
            var e = (p[b + ".modulation"] + modulation).chunk(6, 1);
            var h = LayerNorm(x) * (1 + e[1]) + e[0];
            var q = rope.Apply(Heads(RmsNorm(Linear(b + ".self_attn.q", h), b + ".self_attn.norm_q")), frames, height, width);
            var k = rope.Apply(Heads(RmsNorm(Linear(b + ".self_attn.k", h), b + ".self_attn.norm_k")), frames, height, width);
            x = x + Linear(b + ".self_attn.o", Attention(q, k, Heads(Linear(b + ".self_attn.v", h)))) * e[2];
            var c = LayerNorm(x) * p[b + ".norm3.weight"] + p[b + ".norm3.bias"];
            var crossed = Attention(Heads(RmsNorm(Linear(b + ".cross_attn.q", c), b + ".cross_attn.norm_q")),
                Heads(RmsNorm(Linear(b + ".cross_attn.k", text), b + ".cross_attn.norm_k")), Heads(Linear(b + ".cross_attn.v", text)));
            x = x + Linear(b + ".cross_attn.o", crossed);
            x = x + Linear(b + ".ffn.2", GeluTanh(Linear(b + ".ffn.0", LayerNorm(x) * (1 + e[4]) + e[3]))) * e[5];
        }
        var head = p["head.modulation"] + time.unsqueeze(1);
        var patches = Linear("head.head", LayerNorm(x) * (1 + head.narrow(1, 1, 1)) + head.narrow(1, 0, 1));
        return patches.view(batch, frames, height, width, 1, 2, 2, config.OutDim).permute(0, 7, 1, 4, 2, 5, 3, 6)
            .reshape(batch, config.OutDim, frames, height * 2, width * 2);
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
