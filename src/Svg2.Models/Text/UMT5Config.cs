namespace Svg2.Models.Text;

/// <summary>
/// The hyperparameters of a umT5 encoder, with umT5-XXL (the text encoder of Wan 2.1) as the default.
/// </summary>
/// <remarks>
/// Values follow the public Wan 2.1 code (wan/modules/t5.py, umt5_xxl): vocabulary 256,384, width 4096,
/// attention width 4096 in 64 heads, feed-forward width 10,240, 24 layers, 32 relative-position buckets
/// up to distance 128, each layer with its own position bias (umT5 shares none), eps 1e-6.
/// </remarks>
public sealed record UMT5Config
{
    /// <summary>Token embeddings.</summary>
    public int VocabularySize { get; init; } = 256_384;

    /// <summary>Width of the residual stream and of the output tokens.</summary>
    public int Dim { get; init; } = 4096;

    /// <summary>Width of the queries, keys and values, all heads together.</summary>
    public int AttentionDim { get; init; } = 4096;

    /// <summary>Hidden width of the gated feed-forward.</summary>
    public int FeedForwardDim { get; init; } = 10_240;

    /// <summary>Attention heads.</summary>
    public int Heads { get; init; } = 64;

    /// <summary>Encoder layers.</summary>
    public int Layers { get; init; } = 24;

    /// <summary>Relative-position buckets (half for keys before the query, half after).</summary>
    public int PositionBuckets { get; init; } = 32;

    /// <summary>Distance from which all relative positions share the outermost bucket.</summary>
    public int MaxDistance { get; init; } = 128;

    /// <summary>Epsilon of the RMS norms.</summary>
    public double Eps { get; init; } = 1e-6;

    /// <summary>Width of one head.</summary>
    public int HeadDim => AttentionDim / Heads;

    /// <summary>umT5-XXL.</summary>
    public static UMT5Config Xxl => new();

    /// <summary>A small configuration (width 32, 4 heads, 2 layers, 64 tokens) for tests on a CPU.</summary>
    public static UMT5Config Tiny => new() { VocabularySize = 64, Dim = 32, AttentionDim = 32, FeedForwardDim = 48, Heads = 4, Layers = 2, PositionBuckets = 8, MaxDistance = 16 };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        void Positive(int value, string name)
        {
            if (value < 1) throw new ArgumentException($"umT5 {name} must be at least 1; got {value}.");
        }
        Positive(VocabularySize, "vocabulary size");
        Positive(Dim, "width");
        Positive(AttentionDim, "attention width");
        Positive(FeedForwardDim, "feed-forward width");
        Positive(Heads, "head count");
        Positive(Layers, "layer count");
        if (AttentionDim % Heads != 0) throw new ArgumentException($"umT5 attention width {AttentionDim} is not divisible by {Heads} heads.");
        // Bidirectional buckets: half per direction, and half of those exact, so at least 4 in all.
        if (PositionBuckets < 4) throw new ArgumentException($"umT5 needs at least 4 position buckets; got {PositionBuckets}.");
        int exact = PositionBuckets / 2 / 2;
        if (MaxDistance <= exact) throw new ArgumentException($"umT5 max distance {MaxDistance} must exceed the {exact} exact distances.");
        if (!(Eps > 0)) throw new ArgumentException($"umT5 eps must be positive; got {Eps}.");
    }
}
