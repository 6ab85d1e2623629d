namespace Svg2.Models.Clip;

/// <summary>
/// The shape of a CLIP vision transformer with a class token and a LayerNorm before the blocks (open-clip's
/// pre-norm ViT), whose features Wan 2.1 image to video takes from the second-to-last block.
/// </summary>
public sealed record ClipVisionConfig
{
    /// <summary>Input side in pixels (224).</summary>
    public int ImageSize { get; init; } = 224;

    /// <summary>Patch side in pixels (14).</summary>
    public int PatchSize { get; init; } = 14;

    /// <summary>Token width (1280).</summary>
    public int Dim { get; init; } = 1280;

    /// <summary>Hidden width of each block's MLP (5120).</summary>
    public int MlpDim { get; init; } = 5120;

    /// <summary>Attention heads (16, of width 80).</summary>
    public int Heads { get; init; } = 16;

    /// <summary>Blocks of the stored model (32); the encoder builds and runs all but the last (<see cref="FeatureLayers"/>).</summary>
    public int Layers { get; init; } = 32;

    /// <summary>LayerNorm epsilon.</summary>
    public double Eps { get; init; } = 1e-5;

    /// <summary>open-clip's XLM-RoBERTa-large ViT-H/14 vision tower, the image encoder of Wan 2.1 image to video.</summary>
    public static ClipVisionConfig VitH14 => new();

    /// <summary>The head width of ViT-H/14 (1280 / 16), from which a state dict without a head count is read.</summary>
    public const int VitH14HeadDim = 80;

    /// <summary>Patches per side.</summary>
    public int GridSize => ImageSize / PatchSize;

    /// <summary>Tokens per image: the class token and one per patch (257 for ViT-H/14 at 224 pixels).</summary>
    public int Tokens => GridSize * GridSize + 1;

    /// <summary>
    /// The blocks whose output is the feature: all but the last, as Wan's <c>visual(..., use_31_block=True)</c>
    /// takes the output of <c>transformer[:-1]</c>, with no final norm or projection.
    /// </summary>
    public int FeatureLayers => Layers - 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that cannot build a model.</summary>
    public void Validate()
    {
        if (PatchSize < 1 || ImageSize < PatchSize || ImageSize % PatchSize != 0)
            throw new ArgumentException($"CLIP image size {ImageSize} must be a positive multiple of the patch size {PatchSize}.");
        if (Dim < 1 || MlpDim < 1 || Heads < 1 || Dim % Heads != 0)
            throw new ArgumentException($"CLIP width {Dim} must be a positive multiple of the head count {Heads}, and the MLP width {MlpDim} positive.");
        if (Layers < 2) throw new ArgumentException($"CLIP needs at least 2 blocks (the features come from all but the last); got {Layers}.");
        if (!(Eps > 0)) throw new ArgumentException($"CLIP LayerNorm epsilon must be positive; got {Eps}.");
    }
}
