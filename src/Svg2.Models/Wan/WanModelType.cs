namespace Svg2.Models.Wan;

/// <summary>The Wan 2.1 task variant, which decides the cross-attention and the input channels.</summary>
public enum WanModelType
{
    /// <summary>Text to video: cross-attention to text tokens only.</summary>
    TextToVideo,

    /// <summary>Image to video: an extra cross-attention to 257 CLIP image tokens through the img_emb MLP.</summary>
    ImageToVideo,
}
