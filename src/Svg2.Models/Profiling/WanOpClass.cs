namespace Svg2.Models.Profiling;

/// <summary>What kind of device work a stretch of a forward is, for a breakdown of where its time goes.</summary>
public enum WanOpClass
{
    /// <summary>Patch, text and time embeddings, the head and unpatchify: everything before the first block and after the last.</summary>
    OutsideBlocks,

    /// <summary>Matrix products of the linear layers (projections and feed-forward).</summary>
    Gemm,

    /// <summary>The self-attention processor's call (dense or sparse).</summary>
    SelfAttention,

    /// <summary>Attention to the text (and image) tokens.</summary>
    CrossAttention,

    /// <summary>Memory-bound work: norms, modulation, rotary embedding, residual adds, activation, layout copies.</summary>
    Elementwise,
}
