namespace Svg2.Evaluation.Workloads;

/// <summary>
/// How peaked and how cleanly clustered a generated workload is: a scale on every head's logit gains,
/// the weights of the texture field and of the white noise in the token features, and the noise that
/// makes key projections differ from query projections.
/// </summary>
/// <param name="Name">The name the command line accepts.</param>
/// <param name="LogitScale">Factor on each head's position and content logit gains; below 1 spreads attention.</param>
/// <param name="TextureWeight">Weight of the smooth texture field in the token features.</param>
/// <param name="WhiteNoiseWeight">Weight of the white noise in the token features.</param>
/// <param name="KeyProjectionNoise">Relative noise added to the query projection to make the key projection.</param>
public sealed record VideoLikeProfile(string Name, double LogitScale, double TextureWeight, double WhiteNoiseWeight, double KeyProjectionNoise)
{
    /// <summary>
    /// The default workload: as peaked as video DiTs are reported to be (on <c>small</c>, 90% of a query's
    /// attention mass lies on 3.7% of the keys on average).
    /// </summary>
    public static VideoLikeProfile Standard { get; } = new("video", 1.0, 0.8, 0.25, 0.3);

    /// <summary>
    /// A harder workload between the default one and real text attention (MiniLM needs a third of the keys
    /// for 90% of the mass): flatter logits and noisier, less separable features, so attention is broader
    /// and clusters are looser (docs/workload.md gives its statistics).
    /// </summary>
    public static VideoLikeProfile Hard { get; } = new("video-hard", 0.7, 1.0, 0.6, 0.6);

    /// <summary>The profiles by name.</summary>
    public static IReadOnlyDictionary<string, VideoLikeProfile> Named { get; } =
        new Dictionary<string, VideoLikeProfile>(StringComparer.OrdinalIgnoreCase) { [Standard.Name] = Standard, [Hard.Name] = Hard };

    /// <summary>The profile <paramref name="name"/> (case-insensitive).</summary>
    public static VideoLikeProfile FromName(string name) =>
        Named.TryGetValue(name, out var profile)
            ? profile
            : throw new ArgumentException($"Unknown workload '{name}'. Known workloads: {string.Join(", ", Named.Keys)}.", nameof(name));
}
