using static TorchSharp.torch;

namespace Svg2.Models.Clip;

/// <summary>
/// Wan 2.1's CLIP preprocessing (<c>CLIPModel.visual</c>): the whole image, in [-1, 1], is resized to the
/// square input size with PyTorch's bicubic interpolation (align_corners false, no antialiasing, no crop, so
/// the aspect ratio is not kept), mapped to [0, 1] and normalised with CLIP's mean and standard deviation.
/// </summary>
public static class ClipImagePreprocessing
{
    /// <summary>CLIP's per-channel mean of [0, 1] pixels (R, G, B).</summary>
    public static readonly double[] Mean = [0.48145466, 0.4578275, 0.40821073];

    /// <summary>CLIP's per-channel standard deviation of [0, 1] pixels (R, G, B).</summary>
    public static readonly double[] Std = [0.26862954, 0.26130258, 0.27577711];

    /// <summary>
    /// Images [B, 3, H, W] in [-1, 1] (any floating type) to normalised pixels [B, 3, size, size], float32 on
    /// <paramref name="device"/> (the interpolation runs there, as the public code runs it on the GPU).
    /// </summary>
    /// <exception cref="ArgumentException">The images are not [B, 3, H, W] of a floating type, or the size is not positive.</exception>
    public static Tensor Apply(Tensor images, int size, Device device)
    {
        if (images.dim() != 4 || images.shape[1] != 3 || images.shape[2] < 1 || images.shape[3] < 1 || !images.is_floating_point())
            throw new ArgumentException($"CLIP preprocessing takes images [B, 3, H, W] of a floating type; got {images.dtype} [{string.Join(", ", images.shape)}].", nameof(images));
        if (size < 1) throw new ArgumentException($"CLIP input size must be positive; got {size}.", nameof(size));
        using var scope = NewDisposeScope();
        var resized = nn.functional.interpolate(images.to(ScalarType.Float32, device), [size, size], mode: InterpolationMode.Bicubic, align_corners: false);
        var mean = tensor(Mean, ScalarType.Float32, device).view(1, 3, 1, 1);
        var std = tensor(Std, ScalarType.Float32, device).view(1, 3, 1, 1);
        return ((resized * 0.5 + 0.5 - mean) / std).MoveToOuterDisposeScope();
    }
}
