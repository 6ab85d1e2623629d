using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>Where and how a video model is loaded.</summary>
/// <param name="Device">The transformer's (and by default the encoders') device.</param>
/// <param name="DType">The transformer's weight type (and the VAE's unless <paramref name="VaeDType"/> is set).</param>
/// <param name="Numerics">The transformer's numerics.</param>
/// <param name="TextOnCpu">Run the text encoder on the CPU (Wan's --t5_cpu), so its weights never reach the GPU.</param>
/// <param name="TextDType">The umT5 text encoder's weight type: bf16 as Wan runs it (its t5_dtype), or float32 for
/// comparisons with a float32 reference.</param>
/// <param name="VaeDType">The VAE's weight type when it differs from <paramref name="DType"/> (Wan's own text-to-video
/// pipeline decodes in float32 whatever the transformer's type).</param>
public sealed record VideoModelOptions(Device Device, ScalarType DType, WanNumerics Numerics = WanNumerics.Fast, bool TextOnCpu = false,
    ScalarType TextDType = ScalarType.BFloat16, ScalarType? VaeDType = null);
