using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// The projections every Wan attention layer has: q, k, v and o (full width, with bias) and RMSNorm on
/// q and k across the full width. Checkpoint keys: q, k, v, o (weight, bias), norm_q.weight, norm_k.weight.
/// </summary>
public abstract class WanAttentionProjections : nn.Module
{
    /// <summary>Creates and registers the projections under their checkpoint names.</summary>
    protected WanAttentionProjections(string name, WanConfig config, Device? device, ScalarType dtype) : base(name)
    {
        Heads = config.Heads;
        Q = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
        K = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
        V = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
        O = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
        NormQ = new WanRmsNorm(config.Dim, config.Eps, device, dtype);
        NormK = new WanRmsNorm(config.Dim, config.Eps, device, dtype);
        register_module("q", Q);
        register_module("k", K);
        register_module("v", V);
        register_module("o", O);
        register_module("norm_q", NormQ);
        register_module("norm_k", NormK);
    }

    /// <summary>Attention heads.</summary>
    protected int Heads { get; }

    internal Linear Q { get; }
    internal Linear K { get; }
    internal Linear V { get; }
    internal Linear O { get; }
    internal WanRmsNorm NormQ { get; }
    internal WanRmsNorm NormK { get; }
}
