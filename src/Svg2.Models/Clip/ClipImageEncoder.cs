using Svg2.Models.Checkpoints;
using Svg2.Models.Pipelines;
using static TorchSharp.torch;

namespace Svg2.Models.Clip;

/// <summary>
/// Wan 2.1's image side of image to video: the first frame through <see cref="ClipImagePreprocessing"/> and
/// <see cref="ClipVisionEncoder"/>. Owns the encoder; ViT-H/14 holds 1.3 GB in bf16, which
/// <see cref="Release"/> frees once the image is encoded, before denoising.
/// </summary>
public sealed class ClipImageEncoder : IImageEncoder, IDisposable
{
    ClipVisionEncoder? _encoder;
    readonly int _imageSize;

    /// <summary>Takes ownership of <paramref name="encoder"/>, which encodes where its weights are.</summary>
    public ClipImageEncoder(ClipVisionEncoder encoder)
    {
        _encoder = encoder;
        _imageSize = encoder.Config.ImageSize;
        FeatureDim = encoder.Config.Dim;
    }

    /// <summary>
    /// Loads the encoder from <paramref name="weights"/> (official or transformers names) with
    /// <paramref name="config"/>, or the configuration the weights' shapes describe when null.
    /// </summary>
    /// <exception cref="CheckpointException">A weight is missing or does not fit.</exception>
    public static ClipImageEncoder Load(ITensorSource weights, ClipVisionConfig? config, Device device, ScalarType dtype = ScalarType.BFloat16) =>
        new(ClipCheckpoint.Load(weights, config, device, dtype));

    /// <inheritdoc/>
    public int FeatureDim { get; }

    /// <summary>True after <see cref="Release"/>: the weights are gone and encoding throws.</summary>
    public bool IsReleased => _encoder is null;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The image is not [3, H, W] of a floating type.</exception>
    /// <exception cref="ObjectDisposedException">After <see cref="Release"/>.</exception>
    public Tensor Encode(Tensor image)
    {
        var encoder = _encoder ?? throw new ObjectDisposedException(nameof(ClipImageEncoder), "The CLIP weights were released.");
        if (image.dim() != 3) throw new ArgumentException($"The image to encode must be [3, H, W]; got [{string.Join(", ", image.shape)}].", nameof(image));
        using var scope = NewDisposeScope();
        var pixels = ClipImagePreprocessing.Apply(image.unsqueeze(0), _imageSize, encoder.Device);
        return encoder.Forward(pixels).to(ScalarType.Float32, CPU).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Frees the weights; encoding afterwards throws <see cref="ObjectDisposedException"/>.</summary>
    public void Release()
    {
        _encoder?.Dispose();
        _encoder = null;
    }

    /// <summary>Same as <see cref="Release"/>.</summary>
    public void Dispose() => Release();
}
