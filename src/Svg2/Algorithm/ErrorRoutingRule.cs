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
    /// <summary>
    /// The range of the level -log10 λ that density searches bisect (density grows with it): from λ = 10^10,
    /// which keeps only the minimum, to λ = 10^-330, which is 0 in double precision and keeps every block.
    /// Scores of well-compensated blocks span hundreds of decades, so the search runs on their logarithm.
    /// </summary>
    public static (double Min, double Max) LevelRange => (-10, 330);

    /// <summary>The number of key clusters kept regardless of score.</summary>
    public int MinimumKept(long keyClusters) => new SelectionRule(1, MinKeyClusterRatio).MinimumKept(keyClusters);

    /// <summary>The level -log10 λ of this rule's threshold (positive infinity for λ = 0).</summary>
    public double Level => -Math.Log10(Threshold);

    /// <summary>The threshold λ = 10^-level of a level (0 at the top of <see cref="LevelRange"/>).</summary>
    public static double ThresholdAt(double level) =>
        double.IsFinite(level) ? Math.Pow(10, -level) : throw new ArgumentException($"A routing level must be finite (got {level}).");
}
