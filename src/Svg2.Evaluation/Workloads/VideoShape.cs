using Svg2.Configuration;

namespace Svg2.Evaluation.Workloads;

/// <summary>
/// The attention problem of one video DiT layer: the latent token grid after patchify, the heads,
/// and (HunyuanVideo-like) text rows appended after the video rows.
/// </summary>
/// <param name="Frames">Latent frames F.</param>
/// <param name="Height">Latent rows per frame after patchify.</param>
/// <param name="Width">Latent columns per frame after patchify.</param>
/// <param name="Heads">Attention heads.</param>
/// <param name="HeadDim">Head dimension D (even, at least 6 for the 3D RoPE).</param>
/// <param name="TextTokens">Text rows after the video rows (256 for HunyuanVideo, else 0).</param>
/// <param name="PromptLength">Real prompt tokens among the text rows; the rest are padding.</param>
/// <param name="Batch">Batch size B.</param>
public sealed record VideoShape(int Frames, int Height, int Width, int Heads, int HeadDim, int TextTokens = 0, int PromptLength = 0, int Batch = 1)
{
    /// <summary>Latent frames F.</summary>
    public int Frames { get; init; } = Positive(Frames, nameof(Frames));

    /// <summary>Latent rows per frame.</summary>
    public int Height { get; init; } = Positive(Height, nameof(Height));

    /// <summary>Latent columns per frame.</summary>
    public int Width { get; init; } = Positive(Width, nameof(Width));

    /// <summary>Attention heads.</summary>
    public int Heads { get; init; } = Positive(Heads, nameof(Heads));

    /// <summary>Head dimension D.</summary>
    public int HeadDim { get; init; } = HeadDim >= 6 && HeadDim % 2 == 0
        ? HeadDim
        : throw new ArgumentOutOfRangeException(nameof(HeadDim), HeadDim, "Head dimension must be even and at least 6.");

    /// <summary>Text rows after the video rows.</summary>
    public int TextTokens { get; init; } = TextTokens >= 0
        ? TextTokens
        : throw new ArgumentOutOfRangeException(nameof(TextTokens), TextTokens, "Text token count cannot be negative.");

    /// <summary>Real prompt tokens among the text rows.</summary>
    public int PromptLength { get; init; } = PromptLength >= 0 && PromptLength <= TextTokens
        ? PromptLength
        : throw new ArgumentOutOfRangeException(nameof(PromptLength), PromptLength, $"Prompt length must be in [0, TextTokens = {TextTokens}].");

    /// <summary>Batch size.</summary>
    public int Batch { get; init; } = Positive(Batch, nameof(Batch));

    /// <summary>Tokens per latent frame, Height x Width.</summary>
    public int TokensPerFrame => Height * Width;

    /// <summary>Video rows F x Height x Width.</summary>
    public int VideoTokens => checked(Frames * Height * Width);

    /// <summary>Sequence length S: video rows plus text rows.</summary>
    public int SequenceLength => checked(VideoTokens + TextTokens);

    /// <summary>Four heads over a 4x6x8 grid, D = 32: for tests.</summary>
    public static VideoShape Tiny { get; } = new(4, 6, 8, 4, 32);

    /// <summary>The default benchmark: 8x18x32 = 4,608 tokens (a 16:9 frame), 8 heads, D = 64.</summary>
    public static VideoShape Small { get; } = new(8, 18, 32, 8, 64);

    /// <summary>Wan 2.1 T2V 1.3B at 480x832, 81 frames: 21x30x52 = 32,760 tokens, 12 heads.</summary>
    public static VideoShape Wan13B480p => Named[ModelGeometries.Wan1_3B480p.Name];

    /// <summary>Wan 2.1 T2V 14B at 720x1280, 81 frames: 21x45x80 = 75,600 tokens, 40 heads.</summary>
    public static VideoShape Wan14B720p => Named[ModelGeometries.Wan14B720p.Name];

    /// <summary>Wan 2.1 I2V 14B at 480p from a square image (624x624): 21x39x39 = 31,941 tokens, 40 heads.</summary>
    public static VideoShape WanI2V480p => Named[ModelGeometries.WanI2V480p.Name];

    /// <summary>HunyuanVideo at 720x1280, 129 frames: 33x45x80 = 118,800 video rows + 256 text rows, 24 heads.</summary>
    public static VideoShape Hunyuan720p => Named[ModelGeometries.Hunyuan720p.Name];

    /// <summary>HunyuanVideo at 480x720, 129 frames: 33x30x45 = 44,550 video rows + 256 text rows, 24 heads.</summary>
    public static VideoShape Hunyuan480p => Named[ModelGeometries.Hunyuan480p.Name];

    /// <summary>Cosmos-1.0 at 704x1280, 121 frames: 16x44x80 = 56,320 tokens, 40 heads.</summary>
    public static VideoShape Cosmos720p => Named[ModelGeometries.Cosmos720p.Name];

    /// <summary>
    /// The workload of a model geometry: its grid, heads and text rows, batch 1, and when it has text
    /// rows a templated prompt of typical length among them.
    /// </summary>
    public static VideoShape Of(ModelGeometry geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        return new(geometry.LatentFrames, geometry.TokensHigh, geometry.TokensWide, geometry.Heads, geometry.HeadDim,
            geometry.TextTokens, Math.Min(DefaultPromptLength, geometry.TextTokens));
    }

    /// <summary>The named shapes, by the names the command line accepts: the test and default sizes, then every <see cref="ModelGeometries"/> entry.</summary>
    public static IReadOnlyDictionary<string, VideoShape> Named { get; } = new[] { ("tiny", Tiny), ("small", Small) }
        .Concat(ModelGeometries.All.Select(g => (g.Name, Of(g))))
        .ToDictionary(named => named.Item1, named => named.Item2, StringComparer.OrdinalIgnoreCase);

    /// <summary>The named shape <paramref name="name"/> (case-insensitive).</summary>
    public static VideoShape FromName(string name) =>
        Named.TryGetValue(name, out var shape)
            ? shape
            : throw new ArgumentException($"Unknown workload shape '{name}'. Known shapes: {string.Join(", ", Named.Keys)}.", nameof(name));

    // A templated prompt of typical length; the real value comes from the tokenizer at run time.
    private const int DefaultPromptLength = 96;

    private static int Positive(int value, string name) =>
        value > 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
}
