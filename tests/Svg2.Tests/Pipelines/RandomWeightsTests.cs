using Svg2.Models.Pipelines;
using Svg2.Models.Vae;
using Svg2.Models.Wan;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Pipelines;

public sealed class RandomWeightsTests
{
    [Fact]
    public void NormScalesAreOneBiasesZeroAndMatricesWithinTheirBoundTheSameForTheSameSeed()
    {
        using var model = new WanModel(WanConfig.Tiny);
        using var again = new WanModel(WanConfig.Tiny);
        RandomWeights.Fill(model, 7);
        RandomWeights.Fill(again, 7);
        var other = again.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in model.named_parameters())
        {
            Assert.True(parameter.equal(other[name]).all().item<bool>(), name);
            if (name.Contains("norm") && name.EndsWith(".weight")) Assert.Equal(1.0, parameter.min().item<float>());
            else if (parameter.dim() < 2) Assert.Equal(0.0, parameter.abs().max().item<float>());
            else
            {
                double bound = Math.Sqrt(3.0 / (parameter.numel() / parameter.shape[0]));
                double largest = parameter.abs().max().item<float>();
                Assert.True(largest <= bound && largest > 0.5 * bound, $"{name}: largest {largest}, bound {bound}");
            }
        }
        RandomWeights.Fill(again, 8);
        Assert.False(model.Blocks[0].named_parameters().First(p => p.parameter.dim() == 2).parameter
            .equal(again.Blocks[0].named_parameters().First(p => p.parameter.dim() == 2).parameter).all().item<bool>());
    }

    [Fact]
    public void TheVaeGammasAreOne()
    {
        using var vae = new WanVae(WanVaeConfig.Wan21 with { BaseDim = 8 });
        RandomWeights.Fill(vae, 1);
        var gammas = vae.named_parameters().Where(p => p.name.EndsWith("gamma")).ToList();
        Assert.NotEmpty(gammas);
        Assert.All(gammas, g => Assert.True(g.parameter.eq(1).all().item<bool>(), g.name));
    }
}
