namespace Svg2.Models.Pipelines;

/// <summary>Where a generation's time and memory went.</summary>
/// <param name="Stages">Text encoding, image encoding (image to video only), denoising and decoding, in order.</param>
/// <param name="Steps">Each denoising step.</param>
/// <param name="LatentShape">[C, F', H', W'] of the denoised latents.</param>
/// <param name="Tokens">Transformer tokens per frame stack (the self-attention's sequence length).</param>
public sealed record GenerationReport(IReadOnlyList<StageReport> Stages, IReadOnlyList<StepReport> Steps, long[] LatentShape, long Tokens)
{
    /// <summary>Wall time of every stage together.</summary>
    public double TotalMs => Stages.Sum(s => s.Milliseconds);

    /// <summary>The denoising phases: the steps whose attention was all dense (the warm-up) and those with sparse calls.</summary>
    public IReadOnlyList<PhaseReport> Phases =>
        Steps.GroupBy(s => s.Density is null ? "dense" : "sparse")
            .Select(g => new PhaseReport(g.Key, g.Select(s => s.Step).ToArray(), g.Max(s => s.PeakDeviceBytes)))
            .ToList();
}

/// <summary>One denoising phase.</summary>
/// <param name="Mode">"dense" (every attention call dense: the warm-up, or a dense run) or "sparse".</param>
/// <param name="Steps">The steps' indices.</param>
/// <param name="PeakDeviceBytes">The most device memory in use at the end of any of its steps (see <see cref="StepReport.PeakDeviceBytes"/>); null on a CPU.</param>
public sealed record PhaseReport(string Mode, int[] Steps, long? PeakDeviceBytes);

/// <summary>One stage of a generation.</summary>
/// <param name="Name">"text encoding", "image encoding" (CLIP and the VAE-encoded first frame), "denoising" or "decoding".</param>
/// <param name="Milliseconds">Its wall time, the device's queued work included.</param>
/// <param name="PeakDeviceBytes">The most device memory in use seen during it (the CUDA driver's count, sampled
/// after each step or stage, the caching allocator's reserve included); null on a CPU.</param>
public sealed record StageReport(string Name, double Milliseconds, long? PeakDeviceBytes);

/// <summary>One denoising step.</summary>
/// <param name="Step">Its index.</param>
/// <param name="Milliseconds">The whole step: every guidance pass's forward and the scheduler.</param>
/// <param name="SelfAttentionMs">The self-attention processor's calls within it.</param>
/// <param name="Density">Attention density of the step's sparse calls (null when all were dense).</param>
/// <param name="OverallDensity">Density over all of the step's calls, dense calls counting 1.</param>
/// <param name="PeakDeviceBytes">Device memory in use at the step's end (the CUDA driver's count, the caching allocator's
/// reserve included, so it holds the most the step's work reserved); null on a CPU.</param>
public sealed record StepReport(int Step, double Milliseconds, double SelfAttentionMs, double? Density, double? OverallDensity, long? PeakDeviceBytes = null)
{
    /// <summary>Everything but self-attention.</summary>
    public double OtherMs => Milliseconds - SelfAttentionMs;
}
