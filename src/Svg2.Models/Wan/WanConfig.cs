namespace Svg2.Models.Wan;

/// <summary>
/// The hyperparameters of a Wan 2.1 diffusion transformer, with the public configurations as presets.
/// </summary>
/// <remarks>
/// Values follow the public Wan 2.1 configuration files (wan/configs/wan_t2v_1_3B.py, wan_t2v_14B.py,
/// wan_i2v_14B.py and shared_config.py): patch (1, 2, 2), text length 512, T5 width 4096, frequency
/// width 256, eps 1e-6, q/k RMSNorm and the affine cross-attention norm on; in_dim is 16 for text to
/// video and 36 for image to video (16 noise channels, 4 mask channels and 16 image-latent channels).
/// </remarks>
public sealed record WanConfig
{
    /// <summary>Task variant.</summary>
    public WanModelType ModelType { get; init; } = WanModelType.TextToVideo;

    /// <summary>Patch size over (frames, height, width).</summary>
    public (int Frames, int Height, int Width) PatchSize { get; init; } = (1, 2, 2);

    /// <summary>Text tokens the context is padded to.</summary>
    public int TextLength { get; init; } = 512;

    /// <summary>Input latent channels.</summary>
    public int InDim { get; init; } = 16;

    /// <summary>Transformer width.</summary>
    public int Dim { get; init; } = 1536;

    /// <summary>Feed-forward hidden width.</summary>
    public int FfnDim { get; init; } = 8960;

    /// <summary>Width of the sinusoidal timestep embedding.</summary>
    public int FreqDim { get; init; } = 256;

    /// <summary>Width of the text encoder's (umT5-XXL) tokens.</summary>
    public int TextDim { get; init; } = 4096;

    /// <summary>Width of the CLIP image tokens (image to video only).</summary>
    public int ImageDim { get; init; } = 1280;

    /// <summary>Output latent channels.</summary>
    public int OutDim { get; init; } = 16;

    /// <summary>Attention heads.</summary>
    public int Heads { get; init; } = 12;

    /// <summary>Transformer blocks.</summary>
    public int Layers { get; init; } = 30;

    /// <summary>Epsilon of every normalisation.</summary>
    public double Eps { get; init; } = 1e-6;

    /// <summary>Width of one head.</summary>
    public int HeadDim => Dim / Heads;

    /// <summary>Wan 2.1 T2V 1.3B.</summary>
    public static WanConfig TextToVideo1_3B => new();

    /// <summary>Wan 2.1 T2V 14B.</summary>
    public static WanConfig TextToVideo14B => new() { Dim = 5120, FfnDim = 13824, Heads = 40, Layers = 40 };

    /// <summary>Wan 2.1 I2V 14B.</summary>
    public static WanConfig ImageToVideo14B => TextToVideo14B with { ModelType = WanModelType.ImageToVideo, InDim = 36 };

    /// <summary>A small text-to-video configuration (width 64, 4 heads) for smoke tests on a CPU.</summary>
    public static WanConfig Tiny => new() { Dim = 64, Heads = 4, FfnDim = 128, TextDim = 32, TextLength = 16, FreqDim = 32, Layers = 2 };

    /// <summary>A preset by its public name: t2v-1.3B, t2v-14B or i2v-14B (case-insensitive; "1.3b" and "14b" mean text to video; "tiny" is <see cref="Tiny"/>).</summary>
    public static WanConfig Named(string name) => name.ToLowerInvariant() switch
    {
        "t2v-1.3b" or "1.3b" => TextToVideo1_3B,
        "t2v-14b" or "14b" => TextToVideo14B,
        "i2v-14b" => ImageToVideo14B,
        "tiny" => Tiny,
        _ => throw new ArgumentException($"Unknown Wan model '{name}' (expected t2v-1.3B, t2v-14B or i2v-14B)."),
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        if (Dim < 1 || Heads < 1 || Dim % Heads != 0) throw new ArgumentException($"Width {Dim} must be a positive multiple of the head count {Heads}.");
        if (HeadDim % 2 != 0) throw new ArgumentException($"Head width {HeadDim} must be even for the rotary embedding.");
        if (HeadDim < 6) throw new ArgumentException($"Head width {HeadDim} is too small to split between frames, height and width (at least 6).");
        if (Layers < 1) throw new ArgumentException($"Layer count must be at least 1 (got {Layers}).");
        if (FreqDim % 2 != 0) throw new ArgumentException($"Frequency width {FreqDim} must be even.");
        if (InDim < 1 || OutDim < 1 || FfnDim < 1 || TextDim < 1 || TextLength < 1) throw new ArgumentException("Channel counts, widths and text length must be positive.");
        if (PatchSize.Frames < 1 || PatchSize.Height < 1 || PatchSize.Width < 1) throw new ArgumentException($"Patch size {PatchSize} must be positive.");
    }
}
