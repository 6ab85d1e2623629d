using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>Turns the first frame of an image-to-video generation into the image tokens of the transformer's cross-attention.</summary>
public interface IImageEncoder
{
    /// <summary>Width of an image token (1280 for CLIP ViT-H/14).</summary>
    int FeatureDim { get; }

    /// <summary>An image [3, H, W] with values in [-1, 1] to its tokens [1, T, FeatureDim], float32 on the CPU (T = 257 for Wan).</summary>
    Tensor Encode(Tensor image);
}
