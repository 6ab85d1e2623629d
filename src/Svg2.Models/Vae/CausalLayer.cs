using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// One entry of an encoder's or decoder's layer list (residual block, attention block or resampling),
/// run on the next time chunk of a video.
/// </summary>
public abstract class CausalLayer : nn.Module
{
    /// <summary>Names the module.</summary>
    protected CausalLayer(string name) : base(name) { }

    /// <summary>
    /// The layer's output for the next chunk [B, C, T, H, W] of a video, given what it kept in
    /// <paramref name="cache"/> from earlier chunks. Returns a new tensor; <paramref name="x"/> stays the caller's.
    /// </summary>
    public abstract Tensor Forward(Tensor x, CausalCache cache);
}
