using Svg2.Models.Pipelines;
using static TorchSharp.torch;

namespace Svg2.Models.Small;

/// <summary>
/// The latent space of a model trained without a VAE: every frame pixel-unshuffled by a spatial factor
/// f (an f x f block of RGB pixels becomes 3 f^2 channels, PyTorch's pixel_unshuffle order) and each
/// channel normalised by statistics measured on the training clips. No temporal compression; the map is
/// exactly invertible, so decoding loses nothing but float rounding.
/// </summary>
public sealed class PixelUnshuffleCodec : IVideoLatentCodec
{
    /// <summary>Creates the codec.</summary>
    /// <exception cref="ArgumentException">The normalisation does not have 3 f^2 channels.</exception>
    public PixelUnshuffleCodec(int factor, ChannelNormalisation normalisation)
    {
        if (factor < 1) throw new ArgumentException($"Spatial factor must be at least 1 (got {factor}).");
        if (normalisation.Channels != 3 * factor * factor || normalisation.Std.Length != normalisation.Channels)
            throw new ArgumentException($"Normalisation for spatial factor {factor} needs {3 * factor * factor} means and deviations; got {normalisation.Mean.Length} and {normalisation.Std.Length}.");
        SpatialCompression = factor;
        Normalisation = normalisation;
    }

    /// <summary>The per-channel statistics latents are normalised with.</summary>
    public ChannelNormalisation Normalisation { get; }

    /// <inheritdoc/>
    public int LatentChannels => Normalisation.Channels;

    /// <inheritdoc/>
    public int TemporalCompression => 1;

    /// <inheritdoc/>
    public int SpatialCompression { get; }

    /// <summary>Video [B, 3, F, H, W] in [-1, 1] to normalised latents [B, 3 f^2, F, H/f, W/f] float32, on the video's device.</summary>
    /// <exception cref="ArgumentException">The video is not [B, 3, F, H, W] with H and W multiples of f.</exception>
    public Tensor Encode(Tensor video)
    {
        if (video.dim() != 5 || video.shape[1] != 3)
            throw new ArgumentException($"Video must be [B, 3, F, H, W]; got [{string.Join(", ", video.shape)}].");
        long batch = video.shape[0], frames = video.shape[2], height = video.shape[3], width = video.shape[4];
        int f = SpatialCompression;
        if (height % f != 0 || width % f != 0)
            throw new ArgumentException($"Frame size {width}x{height} is not a multiple of the spatial factor {f}.");
        using var scope = NewDisposeScope();
        var perFrame = video.to(ScalarType.Float32).permute(0, 2, 1, 3, 4).reshape(batch * frames, 3, height, width);
        var unshuffled = nn.functional.pixel_unshuffle(perFrame, f)
            .view(batch, frames, LatentChannels, height / f, width / f).permute(0, 2, 1, 3, 4);
        var device = video.device;
        return ((unshuffled - Normalisation.MeanTensor(device)) / Normalisation.StdTensor(device)).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Normalised latents [B, 3 f^2, F, h, w] to video [B, 3, F, h f, w f] float32, clamped to [-1, 1], on the latents' device.</summary>
    /// <exception cref="ArgumentException">The latents do not have this codec's channel count.</exception>
    public Tensor Decode(Tensor latents)
    {
        if (latents.dim() != 5 || latents.shape[1] != LatentChannels)
            throw new ArgumentException($"Latents must be [B, {LatentChannels}, F, H, W]; got [{string.Join(", ", latents.shape)}].");
        long batch = latents.shape[0], frames = latents.shape[2], height = latents.shape[3], width = latents.shape[4];
        int f = SpatialCompression;
        using var scope = NewDisposeScope();
        var device = latents.device;
        var pixels = latents.to(ScalarType.Float32) * Normalisation.StdTensor(device) + Normalisation.MeanTensor(device);
        var perFrame = pixels.permute(0, 2, 1, 3, 4).reshape(batch * frames, LatentChannels, height, width);
        var video = nn.functional.pixel_shuffle(perFrame, f).view(batch, frames, 3, height * f, width * f).permute(0, 2, 1, 3, 4);
        return video.clamp(-1, 1).contiguous().MoveToOuterDisposeScope();
    }
}
