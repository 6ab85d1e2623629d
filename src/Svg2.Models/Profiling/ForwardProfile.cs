namespace Svg2.Models.Profiling;

/// <summary>Where one forward's device time went.</summary>
/// <param name="TotalMs">From the first mark to the end.</param>
/// <param name="ClassMs">Milliseconds per op class.</param>
/// <param name="BlockMs">Milliseconds of each block in order.</param>
public sealed record ForwardProfile(double TotalMs, IReadOnlyDictionary<WanOpClass, double> ClassMs, IReadOnlyList<double> BlockMs);
