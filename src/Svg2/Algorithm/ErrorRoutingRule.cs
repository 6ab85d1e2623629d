namespace Svg2.Algorithm;

/// <summary>
/// The rule of error-aware routing: a block is computed exactly when its estimated error-to-cost score
/// (<see cref="CompensationErrorProbe"/>: its share of the head's squared output error over its share
/// of the score matrix) reaches <paramref name="Threshold"/>; every query cluster also keeps its
/// best-scoring key cluster and at least floor(ratio x KC) of them.
/// </summary>
/// <param name="Threshold">λ, at least 0: 0 keeps every block; larger values keep fewer.</param>
/// <param name="MinKeyClusterRatio">At least floor(ratio x KC) key clusters are kept per query cluster.</param>
public readonly record struct ErrorRoutingRule(double Threshold, double MinKeyClusterRatio)
{
    /// <summary>The number of key clusters kept regardless of score.</summary>
    public int MinimumKept(long keyClusters) => new SelectionRule(1, MinKeyClusterRatio).MinimumKept(keyClusters);

    /// <summary>
    /// The threshold as a budget in (0, 1] that grows with density, 1 / (1 + λ): 1 keeps every block.
    /// Density searches bisect this value.
    /// </summary>
    public double Budget => 1 / (1 + Threshold);

    /// <summary>The threshold λ = 1 / budget - 1 of a budget in (0, 1].</summary>
    public static double ThresholdOf(double budget) =>
        budget > 0 && budget <= 1 ? 1 / budget - 1 : throw new ArgumentException($"An error-routing budget must lie in (0, 1] (got {budget}).");
}
