namespace Svg2.Evaluation.Benchmarks;

/// <summary>One warm svg2-ear call (per-row compensation, error-aware routing) timed with one probe variant.</summary>
/// <param name="Probe">The probe, as the report names it ("full", "16-key", "full, centroid normaliser").</param>
/// <param name="Milliseconds">Mean time of a warm call.</param>
/// <param name="Density">Mean density of its last timed call.</param>
public sealed record ErrorRoutedTiming(string Probe, double Milliseconds, double Density);
