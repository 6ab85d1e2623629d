using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Tests.Models;

/// <summary>Small Wan configurations and seeded inputs for CPU tests.</summary>
static class TinyWan
{
    public static WanConfig Config(WanModelType type = WanModelType.TextToVideo, int layers = 2) => new()
    {
        ModelType = type,
        Dim = 24,
        Heads = 2,
        FfnDim = 40,
        FreqDim = 16,
        TextDim = 20,
        TextLength = 8,
        ImageDim = 12,
        InDim = type == WanModelType.ImageToVideo ? 9 : 4,
        OutDim = 4,
        Layers = layers,
    };

    public static WanModel Model(int seed, WanConfig? config = null, ScalarType dtype = ScalarType.Float32)
    {
        manual_seed(seed);
        var model = new WanModel(config ?? Config(), CPU, dtype);
        // The official initialisation zeroes the head; random values keep every path visible in the output.
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed + 1000);
        foreach (var (_, parameter) in model.named_parameters())
            parameter.copy_(randn(parameter.shape, generator: generator) * 0.3);
        return model;
    }

    public static WanInputs Inputs(int seed, WanConfig config, long batch = 1, long frames = 2, long height = 8, long width = 8, long textTokens = 5)
    {
        var generator = new Generator((ulong)seed);
        var latents = randn([batch, 4, frames, height, width], generator: generator);
        var timesteps = rand([batch], generator: generator) * 1000;
        var context = randn([batch, textTokens, config.TextDim], generator: generator);
        if (config.ModelType != WanModelType.ImageToVideo) return new WanInputs(latents, timesteps, context);
        var clip = randn([batch, 3, config.ImageDim], generator: generator);
        var condition = randn([batch, config.InDim - 4, frames, height, width], generator: generator);
        return new WanInputs(latents, timesteps, context, clip, condition);
    }

    public static double RelativeError(Tensor actual, Tensor expected)
    {
        using var a = actual.to(ScalarType.Float64);
        using var e = expected.to(ScalarType.Float64);
        return (a - e).norm().item<double>() / e.norm().item<double>();
    }
}
