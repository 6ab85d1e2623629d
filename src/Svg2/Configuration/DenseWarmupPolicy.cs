namespace Svg2.Configuration;

/// <summary>
/// Which attention calls run dense: the first <see cref="DenseSteps"/> denoising steps and the first
/// <see cref="DenseLayers"/> layers. Decided by step index, as the specification recommends.
/// </summary>
/// <param name="DenseSteps">Steps 0 .. DenseSteps-1 are dense in every layer.</param>
/// <param name="DenseLayers">Layers 0 .. DenseLayers-1 are dense in every step.</param>
/// <param name="KMeansDuringWarmup">
/// Run k-means in dense calls too (the reference's "zero-step k-means init"), so centroids are
/// refined when sparse steps begin; the labels are discarded.
/// </param>
public readonly record struct DenseWarmupPolicy(int DenseSteps, int DenseLayers, bool KMeansDuringWarmup = false)
{
    /// <summary>A policy under which every call is sparse.</summary>
    public static DenseWarmupPolicy None => new(0, 0);

    /// <summary>
    /// The reference's fractions: floor(stepFraction x steps) dense steps and
    /// floor(layerFraction x layers) dense layers.
    /// </summary>
    public static DenseWarmupPolicy FromFractions(double stepFraction, int steps, double layerFraction, int layers, bool kmeansDuringWarmup = false)
    {
        if (!(stepFraction >= 0 && stepFraction <= 1)) throw new ArgumentException($"Dense step fraction must lie in [0, 1] (got {stepFraction}).");
        if (!(layerFraction >= 0 && layerFraction <= 1)) throw new ArgumentException($"Dense layer fraction must lie in [0, 1] (got {layerFraction}).");
        if (steps < 1) throw new ArgumentException($"Step count must be at least 1 (got {steps}).");
        if (layers < 1) throw new ArgumentException($"Layer count must be at least 1 (got {layers}).");
        return new(FloorFraction(stepFraction, steps), FloorFraction(layerFraction, layers), kmeansDuringWarmup);
    }

    /// <summary>Whether the call at this step and layer runs dense attention.</summary>
    public bool IsDense(int step, int layer) => step < DenseSteps || layer < DenseLayers;

    // The small epsilon keeps products such as 0.35 x 40 = 14.000000000000002 or 0.29 x 100 =
    // 28.999999999999996 at their exact decimal value before flooring.
    static int FloorFraction(double fraction, int count) => (int)Math.Floor(fraction * count + 1e-9);
}
