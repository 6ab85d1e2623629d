namespace Svg2.Models.Wan;

/// <summary>Where a transformer forward sits in the sampling loop, passed on to every attention call.</summary>
/// <param name="Step">Denoising step index (0 for the first step).</param>
/// <param name="FirstPass">Guidance pass of batch row 0 (0 = conditional, 1 = unconditional).</param>
/// <param name="PassCount">
/// Guidance passes stacked along the batch: 1 when each pass runs alone, 2 when conditional and
/// unconditional run as one batch. The batch is then split evenly, pass FirstPass + i in part i.
/// </param>
public readonly record struct ForwardContext(int Step, int FirstPass = 0, int PassCount = 1);
