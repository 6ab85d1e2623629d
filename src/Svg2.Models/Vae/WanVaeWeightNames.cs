namespace Svg2.Models.Vae;

/// <summary>How a VAE checkpoint names its tensors.</summary>
public enum WanVaeWeightNames
{
    /// <summary>The official Wan2.1_VAE.pth (the public <c>WanVAE_</c> module's state dict); the model's own names.</summary>
    Official,

    /// <summary>diffusers' <c>AutoencoderKLWan</c> (vae/diffusion_pytorch_model.safetensors); see <see cref="WanVaeDiffusersNames"/>.</summary>
    Diffusers,
}
