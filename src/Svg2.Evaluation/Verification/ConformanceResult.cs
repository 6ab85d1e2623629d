namespace Svg2.Evaluation.Verification;

/// <summary>The outcome of one conformance check of the CUDA backend against a float32 reference.</summary>
/// <param name="Check">What was checked.</param>
/// <param name="Passed">Whether it held.</param>
/// <param name="Detail">Measured errors, counts, or the exception text.</param>
public sealed record ConformanceResult(string Check, bool Passed, string Detail);
