using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// Holds modules under the positions a PyTorch nn.Sequential gives them ("0", "2", ...), so that
/// parameter names match a checkpoint whose Sequential also held layers without parameters (SiLU,
/// dropout, zero padding, upsampling) at the positions left out here.
/// </summary>
internal sealed class SequentialPositions : nn.Module
{
    /// <summary>Registers each module under its position.</summary>
    public SequentialPositions(params (int Position, nn.Module Module)[] children) : base("Sequential")
    {
        foreach (var (position, module) in children) register_module(position.ToString(CultureInfo.InvariantCulture), module);
    }
}
