using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>The inputs of one transformer forward.</summary>
/// <param name="Latents">[B, C, F, H, W] noisy latents (C = 16).</param>
/// <param name="Timesteps">[B] diffusion timesteps in [0, 1000].</param>
/// <param name="Context">[B, L, 4096] text-encoder tokens, L at most the text length (padded with zeros as Wan does).</param>
/// <param name="ClipFeatures">[B, 257, 1280] CLIP image tokens (image to video only).</param>
/// <param name="ImageCondition">[B, 20, F, H, W] mask and image latents concatenated to the latents (image to video only).</param>
public sealed record WanInputs(Tensor Latents, Tensor Timesteps, Tensor Context, Tensor? ClipFeatures = null, Tensor? ImageCondition = null);
