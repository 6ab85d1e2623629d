using Svg2.Models.Vae;
using static TorchSharp.torch;

namespace Svg2.Tests.Vae;

/// <summary>Small Wan VAE configurations with random weights, and seeded videos and latents, for CPU tests.</summary>
static class TinyVae
{
    /// <summary>The Wan 2.1 structure (stages, blocks, temporal steps) at a small width.</summary>
    public static WanVaeConfig Config(int baseDim = 4) => WanVaeConfig.Wan21 with { BaseDim = baseDim };

    /// <summary>
    /// A VAE whose every parameter is random: the official initialisation zeroes the attention
    /// projection and sets every norm's gamma to one, which would hide mistakes in those paths.
    /// </summary>
    public static WanVae Model(int seed, WanVaeConfig? config = null, ScalarType dtype = ScalarType.Float64)
    {
        var model = new WanVae(config ?? Config(), CPU, dtype);
        Randomize(model, seed);
        return model;
    }

    public static void Randomize(WanVae model, int seed)
    {
        using var noGrad = no_grad();
        using var generator = new Generator((ulong)seed);
        foreach (var (name, parameter) in model.named_parameters())
        {
            using var value = name.EndsWith(".gamma", StringComparison.Ordinal)
                ? rand(parameter.shape, ScalarType.Float64, generator: generator) + 0.5
                : name.EndsWith(".bias", StringComparison.Ordinal)
                    ? randn(parameter.shape, ScalarType.Float64, generator: generator) * 0.1
                    : randn(parameter.shape, ScalarType.Float64, generator: generator) / Math.Sqrt(parameter[0].numel());
            parameter.copy_(value);
        }
    }

    /// <summary>A video [1, 3, F, H, W] uniform in [-1, 1].</summary>
    public static Tensor Video(int seed, long frames, long height = 16, long width = 24, ScalarType dtype = ScalarType.Float64)
    {
        using var generator = new Generator((ulong)seed);
        return (rand([1, 3, frames, height, width], ScalarType.Float64, generator: generator) * 2 - 1).to(dtype);
    }

    /// <summary>Normalised latents [1, 16, F', H', W'], standard normal.</summary>
    public static Tensor Latents(int seed, long frames, long height = 2, long width = 3, ScalarType dtype = ScalarType.Float64)
    {
        using var generator = new Generator((ulong)seed);
        return randn([1, 16, frames, height, width], ScalarType.Float64, generator: generator).to(dtype);
    }
}
