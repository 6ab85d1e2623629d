using Svg2.Attention;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Models;
using Svg2.Models.Attention;
using Svg2.Models.Pipelines;
using Svg2.Models.Sampling;
using Svg2.Tests.Models;
using static TorchSharp.torch;

namespace Svg2.Tests.Pipelines;

public class VideoPipelineTests
{
    static VideoRequest Request(long seed = 3) => new()
    {
        Prompt = "a tree in wind", NegativePrompt = "blur", Width = 16, Height = 12, Frames = 3, Steps = 2, Guidance = 4.0, Shift = 3.0, Seed = seed,
    };

    [Fact]
    public void Generate_GivesAVideoOfTheRequestedShapeInRangeAndAReportPerStageAndStep()
    {
        using var model = TinyWan.Model(1);
        var text = new HashPromptEncoder(model.Config.TextDim);
        bool released = false;
        var pipeline = new VideoPipeline(model, text, new BlockCodec(4), () => released = true);
        var (video, report) = pipeline.Generate(Request());
        using (video)
        {
            Assert.Equal(new long[] { 1, 3, 3, 12, 16 }, video.shape);
            Assert.True(video.abs().max().item<float>() <= 1f);
            Assert.Equal(2, text.Calls);
            Assert.True(released);
            Assert.Equal(["text encoding", "denoising", "decoding"], report.Stages.Select(s => s.Name));
            Assert.Equal([0, 1], report.Steps.Select(s => s.Step));
            Assert.All(report.Steps, s => Assert.InRange(s.SelfAttentionMs, 0, s.Milliseconds));
            Assert.Equal(new long[] { 4, 3, 6, 8 }, report.LatentShape);
            Assert.Equal(3 * 3 * 4, report.Tokens);
        }
    }

    [Fact]
    public void Generate_IsDeterministicForASeedAndDiffersAcrossSeeds()
    {
        using var model = TinyWan.Model(2);
        var pipeline = new VideoPipeline(model, new HashPromptEncoder(model.Config.TextDim), new BlockCodec(4));
        var (a, _) = pipeline.Generate(Request(seed: 5));
        var (b, _) = pipeline.Generate(Request(seed: 5));
        var (c, _) = pipeline.Generate(Request(seed: 6));
        using (a) using (b) using (c)
        {
            Assert.Equal(0f, (a - b).abs().max().item<float>());
            Assert.True((a - c).abs().max().item<float>() > 1e-3f);
        }
    }

    [Fact]
    public void Generate_EqualsTheSamplerRunByHand()
    {
        using var model = TinyWan.Model(3);
        var text = new HashPromptEncoder(model.Config.TextDim);
        var codec = new BlockCodec(4);
        var request = Request();
        var (video, _) = new VideoPipeline(model, text, codec).Generate(request);
        using var noise = WanSampler.Noise(4, 3, 6, 8, request.Seed, CPU);
        using var cond = text.Encode(request.Prompt);
        using var uncond = text.Encode(request.NegativePrompt);
        using var latents = new WanSampler(model).Sample(noise, cond, uncond, request.CreateScheduler(), request.Guidance, request.GuidanceMode);
        using var expected = codec.Decode(latents);
        using (video) Assert.True(video.allclose(expected, rtol: 0, atol: 0));
    }

    [Fact]
    public void Generate_WithSvg2RecordsADensityPerSparseStep()
    {
        using var model = TinyWan.Model(4);
        using var state = new Svg2ModelState(model.Config.Layers);
        var attention = new Svg2Attention(new Svg2Options { QueryClusters = 4, KeyClusters = 6, TopP = 0.5, MinKeyClusterRatio = 0.1, InitIterations = 3, StepIterations = 1 });
        var processor = new Svg2AttentionProcessor(attention, state, new DenseWarmupPolicy(1, 0));
        model.SelfAttentionProcessor = processor;
        using var meter = new AttentionDensityMeter();
        meter.Observe(processor);
        var pipeline = new VideoPipeline(model, new HashPromptEncoder(model.Config.TextDim), new BlockCodec(4)) { DensityMeter = meter };
        var (video, report) = pipeline.Generate(Request());
        video.Dispose();
        Assert.Null(report.Steps[0].Density);
        Assert.Equal(1.0, report.Steps[0].OverallDensity);
        Assert.InRange(report.Steps[1].Density!.Value, 0.05, 1.0);
        Assert.Equal(report.Steps[1].Density, report.Steps[1].OverallDensity);
    }

    [Fact]
    public void Generate_WithPositionBlocksReachesTheTargetDensity()
    {
        using var model = TinyWan.Model(5);
        var processor = new MethodAttentionProcessor(_ => PositionBlocksMethod.OfSize(4, 0.05), 0.5, DenseWarmupPolicy.None);
        model.SelfAttentionProcessor = processor;
        using var meter = new AttentionDensityMeter();
        processor.Meter = meter;
        var pipeline = new VideoPipeline(model, new HashPromptEncoder(model.Config.TextDim), new BlockCodec(4)) { DensityMeter = meter };
        var (video, report) = pipeline.Generate(Request() with { Width = 32, Height = 32 });
        video.Dispose();
        Assert.All(report.Steps, s => Assert.InRange(s.Density!.Value, 0.3, 0.7));
    }

    [Theory]
    [InlineData(15, 12, 3, 2, "multiple of 4x4")]
    [InlineData(16, 10, 3, 2, "multiple of 4x4")]
    [InlineData(16, 12, 0, 2, "at least 1")]
    [InlineData(16, 12, 3, 0, "Step count")]
    public void Validate_NamesTheValueItCannotGenerate(int width, int height, int frames, int steps, string expected)
    {
        using var model = TinyWan.Model(6);
        var pipeline = new VideoPipeline(model, new HashPromptEncoder(model.Config.TextDim), new BlockCodec(4));
        var error = Assert.Throws<ArgumentException>(() => pipeline.Validate(Request() with { Width = width, Height = height, Frames = frames, Steps = steps }));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Constructor_RefusesAnEncoderOrCodecOfTheWrongWidth()
    {
        using var model = TinyWan.Model(7);
        Assert.Contains("tokens", Assert.Throws<ArgumentException>(() => new VideoPipeline(model, new HashPromptEncoder(7), new BlockCodec(4))).Message);
        Assert.Contains("latent channels", Assert.Throws<ArgumentException>(() => new VideoPipeline(model, new HashPromptEncoder(model.Config.TextDim), new BlockCodec(5))).Message);
    }

    [Fact]
    public void ImageToVideo_EqualsTheSamplerRunByHandWithWansConditionAndTheImageTokensInBothPasses()
    {
        using var model = TinyWan.Model(8, TinyWan.Config(Svg2.Models.Wan.WanModelType.ImageToVideo));
        var text = new HashPromptEncoder(model.Config.TextDim);
        var image = new MeanImageEncoder(model.Config.ImageDim);
        var codec = new BlockCodec(4);
        bool released = false;
        using var firstFrame = rand([3, 20, 30], generator: new Generator(9)) * 2 - 1;
        var request = Request() with { Image = firstFrame };
        var (video, report) = new VideoPipeline(model, text, codec, image: image, releaseImage: () => released = true).Generate(request);

        using var noise = WanSampler.Noise(4, 3, 6, 8, request.Seed, CPU);
        using var cond = text.Encode(request.Prompt);
        using var uncond = text.Encode(request.NegativePrompt);
        using var clip = image.Encode(firstFrame);
        using var condition = ImageToVideoCondition.Build(codec, firstFrame, request.Frames, request.Height, request.Width);
        using var latents = new WanSampler(model).Sample(noise, cond, uncond, request.CreateScheduler(), request.Guidance, request.GuidanceMode, clip, condition);
        using var expected = codec.Decode(latents);
        using (video) Assert.True(video.allclose(expected, rtol: 0, atol: 0));
        Assert.True(released);
        Assert.Equal(["text encoding", "image encoding", "denoising", "decoding"], report.Stages.Select(s => s.Name));
    }

    [Fact]
    public void ImageToVideo_NeedsAnEncoderAndAnImageAndTextToVideoRefusesThem()
    {
        using var i2v = TinyWan.Model(10, TinyWan.Config(Svg2.Models.Wan.WanModelType.ImageToVideo));
        using var t2v = TinyWan.Model(11);
        var text = new HashPromptEncoder(i2v.Config.TextDim);
        using var firstFrame = zeros(3, 12, 16);
        Assert.Contains("needs an image encoder", Assert.Throws<ArgumentException>(() => new VideoPipeline(i2v, text, new BlockCodec(4))).Message);
        Assert.Contains("tokens", Assert.Throws<ArgumentException>(() => new VideoPipeline(i2v, text, new BlockCodec(4), image: new MeanImageEncoder(5))).Message);
        Assert.Contains("takes no image encoder", Assert.Throws<ArgumentException>(() => new VideoPipeline(t2v, text, new BlockCodec(4), image: new MeanImageEncoder(12))).Message);
        var pipeline = new VideoPipeline(i2v, text, new BlockCodec(4), image: new MeanImageEncoder(i2v.Config.ImageDim));
        Assert.Contains("give the first frame", Assert.Throws<ArgumentException>(() => pipeline.Validate(Request())).Message);
        Assert.Contains("[3, H, W]", Assert.Throws<ArgumentException>(() => pipeline.Validate(Request() with { Image = zeros(1, 3, 12, 16) })).Message);
        Assert.Contains("takes no image", Assert.Throws<ArgumentException>(() => new VideoPipeline(t2v, text, new BlockCodec(4)).Validate(Request() with { Image = firstFrame })).Message);
    }
}
