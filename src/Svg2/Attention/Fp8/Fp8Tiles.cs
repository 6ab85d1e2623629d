namespace Svg2.Attention.Fp8;

/// <summary>
/// The tile shapes FP8 attention is defined on: a Hopper kernel that uses them reproduces the
/// reference's quantisation points exactly.
/// </summary>
public static class Fp8Tiles
{
    /// <summary>Query rows sharing one scale under <see cref="Fp8ScaleGranularity.PerTile"/>: a consumer tile of the Hopper kernel.</summary>
    public const int QueryTileRows = 128;

    /// <summary>Key rows sharing one scale under <see cref="Fp8ScaleGranularity.PerTile"/>.</summary>
    public const int KeyTileRows = 64;

    /// <summary>
    /// Keys per step of the online softmax: the row maximum that P is taken against (and so P's FP8
    /// rounding) advances once per this many keys of a row's key sequence, and each step's P·V is one
    /// inner accumulation.
    /// </summary>
    public const int KeyBlockKeys = 128;

    /// <summary>
    /// P = exp(s - running max) lies in [0, 1] and is multiplied by this before its FP8 rounding, so
    /// 1 maps to the format's maximum; P·V is divided by it at the end.
    /// </summary>
    public const float ProbabilityScale = E4M3.Max;

    /// <summary>Head dimensions of FP8 attention (the k-steps of 32 of FP8 wgmma and the kernel's tiles).</summary>
    public static IReadOnlyList<int> HeadDims { get; } = [64, 128];

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="headDim"/> is one of <see cref="HeadDims"/>.</summary>
    public static void RequireHeadDim(long headDim)
    {
        if (!HeadDims.Contains((int)headDim))
            throw new ArgumentException($"FP8 attention takes head dimension {string.Join(" or ", HeadDims)}; got {headDim}. " +
                "Zero-pad q, k and v to the next supported size (multiplying q by sqrt(padded / original) keeps the softmax scale), or use bf16 precision.");
    }
}
