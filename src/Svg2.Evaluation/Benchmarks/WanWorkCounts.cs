using Svg2.Models.Wan;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>
/// The arithmetic and the least memory traffic of one Wan block at a sequence length, to turn measured
/// times into TFLOP/s and GB/s. Counts are for batch 1 (one guidance pass).
/// </summary>
/// <param name="Config">The model.</param>
/// <param name="Tokens">Video tokens S.</param>
/// <param name="ElementBytes">Bytes of an activation element (2 for bf16).</param>
public sealed record WanWorkCounts(WanConfig Config, long Tokens, int ElementBytes)
{
    // Text tokens after padding, and CLIP tokens for image to video: the keys of the cross-attention.
    long ContextTokens => Config.TextLength + (Config.ModelType == WanModelType.ImageToVideo ? ImageTokens : 0);

    const long ImageTokens = 257;

    /// <summary>
    /// Linear layers: q, k, v, o of self-attention and q, o of cross-attention over S tokens; k, v of
    /// cross-attention over the context; the feed-forward's two products.
    /// </summary>
    public double GemmFlops
    {
        get
        {
            double dim = Config.Dim;
            return 2.0 * Tokens * dim * dim * 6 + 2.0 * ContextTokens * dim * dim * 2 + 2.0 * 2 * Tokens * dim * Config.FfnDim;
        }
    }

    /// <summary>Self-attention at <paramref name="density"/>: QK^T and PV over the computed score entries.</summary>
    public double SelfAttentionFlops(double density) => 4.0 * Tokens * Tokens * Config.Dim * density;

    /// <summary>Cross-attention to the context tokens.</summary>
    public double CrossAttentionFlops => 4.0 * Tokens * ContextTokens * Config.Dim;

    /// <summary>
    /// The fast block's memory-bound passes over [S, dim] activations, each read or written once: three
    /// norms (read, write), the q and k norms with rotation (2 x read, write), the head-major copy of v,
    /// three residual adds (read x and y, write x), the cross-attention's q norm and the two head merges
    /// (read, write), and the activation over [S, ffn] (read, write): 27 x dim + 2 x ffn elements per token.
    /// </summary>
    public double FastElementwiseBytes => (double)Tokens * ElementBytes * (27.0 * Config.Dim + 2.0 * Config.FfnDim);
}
