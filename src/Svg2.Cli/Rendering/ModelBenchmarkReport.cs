using System.Globalization;
using System.Text;
using Svg2.Configuration;
using Svg2.Evaluation.Benchmarks;
using Svg2.Models.Profiling;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Cli.Rendering;

/// <summary>The sampling schedule a per-step time is projected over.</summary>
/// <param name="Steps">Denoising steps.</param>
/// <param name="DenseSteps">Leading steps run dense (SVG2's warm-up).</param>
/// <param name="GuidancePasses">Transformer passes per step (2 with classifier-free guidance).</param>
sealed record ReferenceSchedule(int Steps, int DenseSteps, int GuidancePasses);

/// <summary>The markdown report of <c>svg2 bench-model</c>: step times, their op-class breakdown, the operator outside the model and the fused kernels' bandwidth.</summary>
sealed record ModelBenchmarkReport(
    string ModelName, string Shape, (long Frames, long Height, long Width) Latent, long Tokens, WanConfig Config, int FullLayers,
    ScalarType Dtype, Device Device, WanNumerics Numerics, string BlockKernels, string? BlockKernelsFallback, Svg2Options Options, string Svg2Backend, int Steps,
    IReadOnlyList<(ForwardTiming Timing, string MemoryGib)> Methods, (double Svg2Ms, double Svg2Density, double DenseMs)? StandaloneAttentionMs, IReadOnlyList<KernelBandwidth>? Kernels,
    DevicePeaks? Peaks, ReferenceSchedule Schedule)
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    ForwardTiming Dense => Methods[0].Timing;
    ForwardTiming Sparse => Methods[1].Timing;

    public string Render()
    {
        var text = new StringBuilder();
        var (frames, height, width) = Latent;
        text.AppendLine(Invariant, $"### bench-model: Wan {ModelName}, {Shape} (latent {frames}x{height}x{width}, {Tokens} tokens), {Dtype}, {Device.type}, {Numerics.ToString().ToLowerInvariant()} numerics");
        text.AppendLine();
        string aim = Options.TargetDensity is { } target ? $"density target {target} (top-p searched per layer on the first step)" : $"top-p {Options.TopP}";
        text.AppendLine(Invariant, $"Measured with {Config.Layers} of {FullLayers} layers at full width, {Steps} forwards per method (batch 1, one guidance pass); SVG2 with {Options.QueryClusters}/{Options.KeyClusters} clusters, {aim}, no dense warm-up, {Svg2Backend} backend. Block kernels: {BlockKernels}{(BlockKernelsFallback is null ? "" : $" ({BlockKernelsFallback})")}. Device times from events, no host synchronisation inside a forward.");
        text.AppendLine();
        text.AppendLine("| method | first forward (ms) | forward (ms) | attention (ms) | attention share | per block (ms) | block without self-attention (ms) | outside blocks (ms) | host enqueue (ms) | density | full-depth forward (ms) | device memory in use after (GiB) |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (timing, memory) in Methods)
            text.AppendLine(Invariant, $"| {timing.Method} | {timing.FirstForwardMs:F1} | {timing.ForwardMs:F1} | {timing.AttentionMs:F1} | {timing.AttentionShare:P1} | {timing.BlockMs:F2} | {timing.BlockMs - timing.AttentionMs / Config.Layers:F2} | {timing.OutsideBlocksMs:F2} | {timing.HostEnqueueMs:F1} | {(timing.MeanDensity is { } d ? d.ToString("P1", Invariant) : "1 (dense)")} | {timing.ProjectedForwardMs(FullLayers):F1} | {memory} |");
        text.AppendLine();
        RenderBreakdown(text);
        double denseFull = Dense.ProjectedForwardMs(FullLayers), sparseFull = Sparse.ProjectedForwardMs(FullLayers);
        double denseVideo = Schedule.Steps * Schedule.GuidancePasses * denseFull;
        double sparseVideo = Schedule.DenseSteps * Schedule.GuidancePasses * denseFull + Sparse.ProjectedFirstForwardMs(FullLayers)
            + ((Schedule.Steps - Schedule.DenseSteps) * Schedule.GuidancePasses - 1) * sparseFull;
        text.AppendLine(Invariant, $"Per-step speedup of the transformer (full depth, steady state): {denseFull / sparseFull:F2}x.");
        text.AppendLine(Invariant, $"Outside the blocks: {Dense.OutsideBlocksMs / denseFull:P2} of a full-depth dense forward.");
        text.AppendLine(Invariant, $"Projected video ({Schedule.Steps} steps, first {Schedule.DenseSteps} dense, {Schedule.GuidancePasses} guidance passes): dense {denseVideo / 1000:F1} s, SVG2 {sparseVideo / 1000:F1} s, end-to-end transformer speedup {denseVideo / sparseVideo:F2}x.");
        if (StandaloneAttentionMs is { } standalone)
        {
            double sparseInModel = Sparse.AttentionMs / Config.Layers, denseInModel = Dense.AttentionMs / Config.Layers;
            text.AppendLine(Invariant, $"SVG2 attention per layer inside the model {sparseInModel:F2} ms; the operator alone on layer 0's own q, k, v with its cache and top-p {standalone.Svg2Ms:F2} ms ({sparseInModel / standalone.Svg2Ms - 1:+0.0%;-0.0%} inside), at density {standalone.Svg2Density:P2} alone and {Sparse.MeanDensity:P2} inside (both per layer as a mean over the measured layers; the operator alone runs layer 0).");
            text.AppendLine(Invariant, $"Dense attention per layer inside the model {denseInModel:F2} ms; SDPA alone on the same q, k, v {standalone.DenseMs:F2} ms ({denseInModel / standalone.DenseMs - 1:+0.0%;-0.0%} inside).");
        }
        text.AppendLine("Device memory is the driver's used memory minus the figure before the model was built; the caching allocator keeps what it reserved, so each row is the peak so far.");
        text.AppendLine();
        RenderKernels(text);
        return text.ToString();
    }

    void RenderBreakdown(StringBuilder text)
    {
        var work = new WanWorkCounts(Config, Tokens, Dtype == ScalarType.Float32 ? 4 : 2);
        text.AppendLine(Invariant, $"Where a steady-state forward's device time goes ({Config.Layers} layers; rates against {(Peaks is null ? "no known peak for this device" : $"the {Peaks.Product} peaks, {Peaks.Bf16TeraFlops} bf16 TFLOP/s and {Peaks.MemoryGigabytesPerSecond / 1000} TB/s")}):");
        text.AppendLine();
        text.AppendLine("| op class | dense (ms) | share | rate | SVG2 (ms) | share | rate |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var opClass in Enum.GetValues<WanOpClass>())
        {
            string Cell(ForwardTiming timing)
            {
                double ms = timing.ClassMs[opClass];
                double perLayer = Config.Layers;
                string rate = opClass switch
                {
                    WanOpClass.Gemm => Flops(work.GemmFlops * perLayer, ms),
                    WanOpClass.SelfAttention => Flops(work.SelfAttentionFlops(timing.MeanDensity ?? 1) * perLayer, ms),
                    WanOpClass.CrossAttention => Flops(work.CrossAttentionFlops * perLayer, ms),
                    WanOpClass.Elementwise when Numerics == WanNumerics.Fast => Bandwidth(work.FastElementwiseBytes * perLayer, ms),
                    _ => "",
                };
                return $"{ms:F2} | {ms / timing.ForwardMs:P1} | {rate}";
            }
            text.AppendLine(Invariant, $"| {Describe(opClass)} | {Cell(Dense)} | {Cell(Sparse)} |");
        }
        text.AppendLine();
        text.AppendLine("Rates: GEMM and attention in TFLOP/s (SVG2's attention counts only the computed score entries); the memory-bound class in GB/s of its least traffic (each activation read or written once).");
        text.AppendLine();
    }

    static string Describe(WanOpClass opClass) => opClass switch
    {
        WanOpClass.Gemm => "GEMMs (linear layers)",
        WanOpClass.SelfAttention => "self-attention",
        WanOpClass.CrossAttention => "cross-attention",
        WanOpClass.Elementwise => "other kernels (norms, rotation, residuals, activation, layout)",
        WanOpClass.OutsideBlocks => "outside the blocks (embeddings, head)",
        _ => opClass.ToString(),
    };

    string Flops(double flops, double ms)
    {
        double teraFlops = flops / (ms * 1e9);
        return Peaks is null ? $"{teraFlops:F0} TFLOP/s" : $"{teraFlops:F0} TFLOP/s ({teraFlops / Peaks.Bf16TeraFlops:P0})";
    }

    string Bandwidth(double bytes, double ms)
    {
        double gigabytes = bytes / (ms * 1e6);
        return Peaks is null ? $"{gigabytes:F0} GB/s" : $"{gigabytes:F0} GB/s ({gigabytes / Peaks.MemoryGigabytesPerSecond:P0})";
    }

    void RenderKernels(StringBuilder text)
    {
        if (Kernels is null) return;
        text.AppendLine(Invariant, $"Fused block kernels alone at [1, {Tokens}, {Config.Dim}], {Dtype}, each the mean of repeated launches after warm-up:");
        text.AppendLine();
        text.AppendLine("| kernel | time (ms) | traffic (MB) | GB/s | % of peak bandwidth |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var kernel in Kernels)
            text.AppendLine(Invariant, $"| {kernel.Kernel} | {kernel.Milliseconds:F3} | {kernel.Bytes / 1e6:F0} | {kernel.GigabytesPerSecond:F0} | {(Peaks is null ? "n/a" : (kernel.GigabytesPerSecond / Peaks.MemoryGigabytesPerSecond).ToString("P0", Invariant))} |");
        text.AppendLine();
    }
}
