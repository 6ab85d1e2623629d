using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>
/// Maps videos to the latents a diffusion transformer denoises and back: the Wan VAE, or a fixed
/// pixel rearrangement for a small model trained without one.
/// </summary>
public interface IVideoLatentCodec
{
    /// <summary>Latent channels (16 for the Wan VAE).</summary>
    int LatentChannels { get; }

    /// <summary>Frames per latent frame after the first (4 for the Wan VAE: F frames give (F - 1) / 4 + 1).</summary>
    int TemporalCompression { get; }

    /// <summary>Pixels per latent pixel along height and width (8 for the Wan VAE).</summary>
    int SpatialCompression { get; }

    /// <summary>Video [1, 3, F, H, W] with values in [-1, 1] to normalised latents [1, C, F', H', W'], float32.</summary>
    Tensor Encode(Tensor video);

    /// <summary>Normalised latents [1, C, F', H', W'] to video [1, 3, F, H, W] in [-1, 1], float32.</summary>
    Tensor Decode(Tensor latents);
}
