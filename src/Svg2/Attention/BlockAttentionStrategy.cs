namespace Svg2.Attention;

/// <summary>How the portable reference computes one head of variable-block attention (<see cref="VariableBlockAttention.StrategyFor"/>).</summary>
internal enum BlockAttentionStrategy
{
    /// <summary>Each query cluster attends a copy of the keys it selected: work in proportion to the density.</summary>
    Gathered,

    /// <summary>Every query attends every key under an additive mask that closes the blocks not selected: dense work at dense speed.</summary>
    Masked,
}
