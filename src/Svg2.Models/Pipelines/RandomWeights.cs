using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>
/// Seeded random weights drawn in place, on the device the parameters live on, so that a model of any size
/// can run without a checkpoint (to measure its memory and speed; what it generates is noise).
/// </summary>
/// <remarks>
/// Matrices and convolution kernels are uniform with unit output variance (bound sqrt(3 / fan-in)), norm scales
/// (names with "norm" ending in "weight", and the VAE's "gamma") are one, and other vectors (biases) zero, which
/// keeps activations finite through every layer so that kernels run on ordinary numbers.
/// </remarks>
public static class RandomWeights
{
    /// <summary>Draws every parameter of <paramref name="module"/> in place from the global generators seeded with <paramref name="seed"/>.</summary>
    public static void Fill(nn.Module module, long seed)
    {
        manual_seed(seed);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in module.named_parameters())
        {
            if (IsScale(name)) parameter.fill_(1);
            else if (parameter.dim() < 2) parameter.zero_();
            else
            {
                long fanIn = parameter.numel() / parameter.shape[0];
                double bound = Math.Sqrt(3.0 / fanIn);
                parameter.uniform_(-bound, bound);
            }
        }
    }

    static bool IsScale(string name)
    {
        string leaf = name[(name.LastIndexOf('.') + 1)..];
        return leaf == "gamma" || (leaf == "weight" && name.Contains("norm", StringComparison.Ordinal));
    }
}
