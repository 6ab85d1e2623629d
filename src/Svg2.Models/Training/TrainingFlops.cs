using Svg2.Models.Small;

namespace Svg2.Models.Training;

/// <summary>
/// Floating-point operations of the small model, counting the matrix products (2 per multiply-add) and
/// ignoring elementwise work: per token and layer, the self-attention projections (4 dim^2), the
/// cross-attention's query and output projections (2 dim^2; its keys and values cover only the few
/// context tokens), the feed-forward (2 dim ffn) and the self-attention scores and values (2 S dim for S
/// tokens). A training step is 3 forwards for the linear layers (forward, and the gradients of inputs and
/// weights) and 3.5 for attention (fused attention's backward recomputes the scores).
/// </summary>
public static class TrainingFlops
{
    /// <summary>Forward FLOPs of one clip of <paramref name="tokens"/> tokens, split into the linear layers and self-attention.</summary>
    public static (double Linear, double Attention) Forward(SmallVideoConfig config, long tokens)
    {
        double dim = config.Dim;
        double linearPerToken = 2 * (6 * dim * dim + 2 * dim * config.FfnDim);
        double attentionPerToken = 2 * (2 * tokens * dim);
        return (linearPerToken * tokens * config.Layers, attentionPerToken * tokens * config.Layers);
    }

    /// <summary>FLOPs of one training step of <paramref name="batch"/> clips of the model's trained size.</summary>
    public static double TrainingStep(SmallVideoConfig config, int batch)
    {
        var (linear, attention) = Forward(config, config.Tokens);
        return batch * (3 * linear + 3.5 * attention);
    }
}
