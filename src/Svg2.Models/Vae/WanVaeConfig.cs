namespace Svg2.Models.Vae;

/// <summary>
/// The hyperparameters of the Wan 2.1 video VAE and the published statistics of its latents.
/// </summary>
/// <remarks>
/// Values follow the public Wan 2.1 code (wan/modules/vae.py: <c>_video_vae</c> and <c>WanVAE</c>): base
/// width 96, width multipliers [1, 2, 4, 4], two residual blocks per encoder stage (three per decoder
/// stage), no attention outside the middle blocks, temporal downsampling in the second and third
/// encoder stages ([false, true, true]; the decoder upsamples in time in the reverse order), 16 latent
/// channels. Latents are normalised per channel as (mu - mean) / std with the published mean and std.
/// </remarks>
public sealed record WanVaeConfig
{
    /// <summary>Latent channels (the encoder emits twice as many: mean and log-variance).</summary>
    public int ZDim { get; init; } = 16;

    /// <summary>Width of the first encoder stage and the last decoder stage.</summary>
    public int BaseDim { get; init; } = 96;

    /// <summary>Width of each stage as a multiple of <see cref="BaseDim"/>; one spatial halving between stages.</summary>
    public IReadOnlyList<int> DimMult { get; init; } = [1, 2, 4, 4];

    /// <summary>Residual blocks per encoder stage (the decoder has one more per stage).</summary>
    public int NumResBlocks { get; init; } = 2;

    /// <summary>Whether each downsampling of the encoder also halves time (one entry per stage boundary).</summary>
    public IReadOnlyList<bool> TemporalDownsample { get; init; } = [false, true, true];

    /// <summary>The published mean of each latent channel (public <c>WanVAE</c>).</summary>
    public IReadOnlyList<double> LatentMean { get; init; } =
    [
        -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
        0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
    ];

    /// <summary>The published standard deviation of each latent channel (public <c>WanVAE</c>).</summary>
    public IReadOnlyList<double> LatentStd { get; init; } =
    [
        2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
        3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
    ];

    /// <summary>The Wan 2.1 VAE (Wan2.1_VAE.pth).</summary>
    public static WanVaeConfig Wan21 => new();

    /// <summary>Video frames per latent frame after the first (4 for Wan 2.1).</summary>
    public int TemporalCompression => 1 << TemporalDownsample.Count(t => t);

    /// <summary>Pixels per latent pixel along height and width (8 for Wan 2.1).</summary>
    public int SpatialCompression => 1 << (DimMult.Count - 1);

    /// <summary>Width of every encoder stage boundary: BaseDim, then BaseDim x each multiplier.</summary>
    internal int[] EncoderDims => [BaseDim, .. DimMult.Select(m => BaseDim * m)];

    /// <summary>Width of every decoder stage boundary: the encoder's deepest width, then the multipliers reversed.</summary>
    internal int[] DecoderDims => [BaseDim * DimMult[^1], .. DimMult.Reverse().Select(m => BaseDim * m)];

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        if (ZDim <= 0) throw new ArgumentException($"ZDim must be positive; got {ZDim}.");
        if (BaseDim <= 0 || BaseDim % 2 != 0) throw new ArgumentException($"BaseDim must be positive and even (the decoder's upsampling halves widths); got {BaseDim}.");
        if (DimMult.Count < 2 || DimMult.Any(m => m <= 0))
            throw new ArgumentException($"DimMult needs at least two positive multipliers; got [{string.Join(", ", DimMult)}].");
        if (NumResBlocks <= 0) throw new ArgumentException($"NumResBlocks must be positive; got {NumResBlocks}.");
        if (TemporalDownsample.Count != DimMult.Count - 1)
            throw new ArgumentException($"TemporalDownsample needs one entry per stage boundary ({DimMult.Count - 1}); got {TemporalDownsample.Count}.");
        if (LatentMean.Count != ZDim || LatentStd.Count != ZDim)
            throw new ArgumentException($"LatentMean and LatentStd need {ZDim} values each; got {LatentMean.Count} and {LatentStd.Count}.");
        if (LatentStd.Any(s => !(s > 0) || double.IsInfinity(s)))
            throw new ArgumentException("Every LatentStd value must be positive and finite.");
        if (LatentMean.Any(m => !double.IsFinite(m)))
            throw new ArgumentException("Every LatentMean value must be finite.");
    }
}
