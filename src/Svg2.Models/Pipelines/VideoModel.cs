using Svg2.Models.Wan;

namespace Svg2.Models.Pipelines;

/// <summary>
/// Everything a generation needs from one model: the transformer, its prompt encoder, latent codec and (image
/// to video) image encoder, and its defaults (size, length, steps, negative prompt, frame rate).
/// </summary>
public sealed class VideoModel : IDisposable
{
    readonly IReadOnlyList<IDisposable> _owned;

    /// <summary>Creates the model; it disposes <paramref name="owned"/> (the transformer when null) when disposed.</summary>
    public VideoModel(string name, WanModel transformer, IPromptEncoder text, IVideoLatentCodec codec, VideoRequest defaults, double fps,
        Action? releaseText = null, IReadOnlyList<IDisposable>? owned = null, IImageEncoder? image = null, Action? releaseImage = null)
    {
        if (!(fps > 0)) throw new ArgumentException($"Frame rate must be positive; got {fps}.");
        (Name, Transformer, Text, Codec, Defaults, Fps, ReleaseText, _owned) = (name, transformer, text, codec, defaults, fps, releaseText, owned ?? [transformer]);
        (Image, ReleaseImage) = (image, releaseImage);
    }

    /// <summary>What the model is, for reports ("Wan 2.1 T2V 1.3B (diffusers layout)", ...).</summary>
    public string Name { get; }

    /// <summary>The diffusion transformer.</summary>
    public WanModel Transformer { get; }

    /// <summary>The prompt encoder.</summary>
    public IPromptEncoder Text { get; }

    /// <summary>The latent codec.</summary>
    public IVideoLatentCodec Codec { get; }

    /// <summary>Image to video: the image encoder; null for text to video.</summary>
    public IImageEncoder? Image { get; }

    /// <summary>Frees the image encoder's device memory once the first frame is encoded (null when it holds none).</summary>
    public Action? ReleaseImage { get; }

    /// <summary>The model's defaults: size, frames, steps, guidance, shift and negative prompt.</summary>
    public VideoRequest Defaults { get; }

    /// <summary>Frames per second of the model's videos.</summary>
    public double Fps { get; }

    /// <summary>Frees the prompt encoder's device memory once prompts are encoded (null when it holds none).</summary>
    public Action? ReleaseText { get; }

    /// <summary>A pipeline over this model's parts.</summary>
    public VideoPipeline Pipeline() => new(Transformer, Text, Codec, ReleaseText, Image, ReleaseImage);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var owned in _owned) owned.Dispose();
    }
}
