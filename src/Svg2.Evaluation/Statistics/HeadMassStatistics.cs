namespace Svg2.Evaluation.Statistics;

/// <summary>
/// How concentrated one head's attention is: for each sampled query, the smallest number of keys
/// whose attention weights add up to the target mass.
/// </summary>
/// <param name="Batch">Batch element.</param>
/// <param name="Head">Head index.</param>
/// <param name="Keys">Number of keys S.</param>
/// <param name="Mass">Target mass (0.9 for "90 % of the mass").</param>
/// <param name="QueryIndices">The sampled queries, ascending.</param>
/// <param name="KeysForMass">Keys needed by each sampled query, in the order of <paramref name="QueryIndices"/>.</param>
public sealed record HeadMassStatistics(int Batch, int Head, long Keys, double Mass, long[] QueryIndices, long[] KeysForMass)
{
    /// <summary>Mean keys needed.</summary>
    public double Mean => KeysForMass.Average();

    /// <summary>Median keys needed.</summary>
    public double Median => Percentile(KeysForMass, 0.5);

    /// <summary>10th percentile of keys needed.</summary>
    public double P10 => Percentile(KeysForMass, 0.1);

    /// <summary>90th percentile of keys needed.</summary>
    public double P90 => Percentile(KeysForMass, 0.9);

    /// <summary>A key count as a percentage of all keys.</summary>
    public double PercentOfKeys(double keys) => 100.0 * keys / Keys;

    /// <summary>
    /// The <paramref name="fraction"/> quantile with linear interpolation between the closest ranks
    /// (the common definition of numpy and spreadsheets).
    /// </summary>
    public static double Percentile(IReadOnlyCollection<long> values, double fraction)
    {
        if (values.Count == 0) throw new ArgumentException("Cannot take a percentile of no values.", nameof(values));
        if (fraction is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "Fraction must be in [0, 1].");
        var sorted = values.Order().ToArray();
        double rank = fraction * (sorted.Length - 1);
        int below = (int)Math.Floor(rank);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (rank - below) * (sorted[above] - sorted[below]);
    }
}
