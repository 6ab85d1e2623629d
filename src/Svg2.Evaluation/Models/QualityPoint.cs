namespace Svg2.Evaluation.Models;

/// <summary>One generated video against the dense one.</summary>
/// <param name="Prompt">Its prompt.</param>
/// <param name="Seed">Its seed.</param>
/// <param name="Method">The attention method.</param>
/// <param name="TargetDensity">The density it was driven to (null for dense).</param>
/// <param name="Density">The mean density of its sparse steps (1 for dense).</param>
/// <param name="OverallDensity">The mean density over all steps, the dense warm-up counting 1.</param>
/// <param name="Psnr">Mean PSNR over frames against the dense video (frames equal in both are capped at 100 dB; infinite when all are).</param>
/// <param name="Ssim">Mean SSIM over frames.</param>
/// <param name="MinPsnr">The worst frame's PSNR.</param>
/// <param name="StepMs">Mean wall time of a denoising step.</param>
/// <param name="AttentionMs">Mean self-attention time of a step.</param>
public sealed record QualityPoint(string Prompt, long Seed, string Method, double? TargetDensity, double Density, double OverallDensity,
    double Psnr, double Ssim, double MinPsnr, double StepMs, double AttentionMs);
