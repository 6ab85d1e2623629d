using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>
/// The latent condition of Wan 2.1 image to video (wan/image2video.py): the first frame resized to the video
/// size, followed by black (zero) frames, encoded by the VAE, after a mask that marks which latent frames
/// hold the given image. The transformer reads it concatenated to the noisy latents along the channels.
/// </summary>
public static class ImageToVideoCondition
{
    /// <summary>
    /// The mask [T, F', H', W'] float32 for <paramref name="frames"/> video frames, T the codec's temporal
    /// compression (4): per video frame a flag, 1 for the first and 0 for the rest, with the first repeated T
    /// times (the VAE's first latent frame stands for one frame, the others for T each), then grouped T to a
    /// latent frame, the group index becoming the channel. For Wan this is 1 in every channel of latent
    /// frame 0 and 0 elsewhere.
    /// </summary>
    /// <exception cref="ArgumentException">The frame count is not T n + 1, or a size is not positive.</exception>
    public static Tensor Mask(int frames, long latentHeight, long latentWidth, int temporalCompression)
    {
        if (temporalCompression < 1 || frames < 1 || (frames - 1) % temporalCompression != 0 || latentHeight < 1 || latentWidth < 1)
            throw new ArgumentException($"The image-to-video mask needs {temporalCompression}n+1 frames and a positive latent size; got {frames} frames of {latentHeight}x{latentWidth}.");
        using var scope = NewDisposeScope();
        var flags = zeros(frames + temporalCompression - 1, latentHeight, latentWidth);
        flags.narrow(0, 0, temporalCompression).fill_(1);
        long latentFrames = (frames - 1) / temporalCompression + 1;
        return flags.view(latentFrames, temporalCompression, latentHeight, latentWidth).transpose(0, 1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The video the VAE encodes: <paramref name="image"/> ([3, H, W] in [-1, 1]) resized to
    /// <paramref name="width"/> x <paramref name="height"/> with PyTorch's bicubic interpolation (align_corners
    /// false, no antialiasing, no clamp), as the public code does on the CPU, then <paramref name="frames"/> - 1
    /// zero frames: [1, 3, frames, height, width] float32 on the CPU.
    /// </summary>
    /// <exception cref="ArgumentException">The image is not [3, H, W] of a floating type, or a size is not positive.</exception>
    public static Tensor FirstFrameVideo(Tensor image, int frames, int height, int width)
    {
        if (image.dim() != 3 || image.shape[0] != 3 || image.shape[1] < 1 || image.shape[2] < 1 || !image.is_floating_point())
            throw new ArgumentException($"The first frame must be an image [3, H, W] of a floating type; got {image.dtype} [{string.Join(", ", image.shape)}].", nameof(image));
        if (frames < 1 || height < 1 || width < 1) throw new ArgumentException($"Video of {frames} frames of {width}x{height}: every size must be positive.");
        using var scope = NewDisposeScope();
        var first = nn.functional.interpolate(image.to(ScalarType.Float32, CPU).unsqueeze(0), [height, width], mode: InterpolationMode.Bicubic, align_corners: false);
        var video = zeros([1, 3, frames, height, width]);
        video.select(2, 0).copy_(first);
        return video.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The whole condition [1, T + C, F', H', W'] float32 on the codec's device: <see cref="Mask"/> followed by
    /// the codec's latents of <see cref="FirstFrameVideo"/>.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Mask"/> and <see cref="FirstFrameVideo"/>, or the size is not a multiple of the codec's compression.</exception>
    public static Tensor Build(IVideoLatentCodec codec, Tensor image, int frames, int height, int width)
    {
        if (height % codec.SpatialCompression != 0 || width % codec.SpatialCompression != 0)
            throw new ArgumentException($"Size {width}x{height} is not a multiple of the codec's {codec.SpatialCompression}-pixel compression.");
        using var scope = NewDisposeScope();
        var latents = codec.Encode(FirstFrameVideo(image, frames, height, width)).to(ScalarType.Float32);
        var mask = Mask(frames, height / codec.SpatialCompression, width / codec.SpatialCompression, codec.TemporalCompression).to(latents.device);
        return cat([mask.unsqueeze(0), latents], 1).MoveToOuterDisposeScope();
    }
}
