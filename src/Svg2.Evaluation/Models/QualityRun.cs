using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Models.Pipelines;
using Svg2.Models.Quality;
using Svg2.Models.Video;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Models;

/// <summary>
/// End-to-end quality of sparse attention: for every prompt and seed, the dense video and, from the same
/// noise and under the same dense warm-up, one video per method and density, each compared with the dense
/// one on its 8-bit frames (what a lossless PNG holds) by PSNR and SSIM.
/// </summary>
public static class QualityRun
{
    /// <summary>Runs the comparison on <paramref name="model"/>.</summary>
    /// <param name="model">The video model; its transformer's attention processor is replaced run by run.</param>
    /// <param name="requests">One request per prompt and seed (the dense reference is generated for each).</param>
    /// <param name="methods">Sparse method names (see <see cref="AttentionSetup.Methods"/>).</param>
    /// <param name="densities">Target densities every method is driven to.</param>
    /// <param name="denseStepFraction">Share of the steps that run dense first, for every method alike.</param>
    /// <param name="options">SVG2's clustering options.</param>
    /// <param name="progress">Called with a line per finished video.</param>
    public static IReadOnlyList<QualityPoint> Run(VideoModel model, IReadOnlyList<VideoRequest> requests, IReadOnlyList<string> methods,
        IReadOnlyList<double> densities, double denseStepFraction, Svg2Options options, Action<string>? progress = null)
    {
        var points = new List<QualityPoint>();
        var pipeline = model.Pipeline();
        foreach (var request in requests)
        {
            pipeline.Validate(request);
            var warmup = DenseWarmupPolicy.FromFractions(denseStepFraction, request.Steps, 0, model.Transformer.Config.Layers);
            using var reference = Generate(model, pipeline, request, "dense", options, DenseWarmupPolicy.None, null, out var denseReport);
            points.Add(Point(request, "dense", null, denseReport, reference, reference));
            progress?.Invoke($"{request.Prompt} seed {request.Seed}: dense, {denseReport.TotalMs / 1000:F1} s");
            // Densities outermost, so that a run cut short still holds every method at the densities it reached.
            foreach (var density in densities)
                foreach (var method in methods)
                {
                    // The clustering methods search their budget parameter per layer; the baselines get the density directly.
                    var methodOptions = MethodCatalog.Clusters(method) ? options with { TargetDensity = density, MinKeyClusterRatio = TargetDensityFloor.MinimumRatio(options.MinKeyClusterRatio, density) } : options;
                    using var video = Generate(model, pipeline, request, method, methodOptions, warmup, density, out var report);
                    var point = Point(request, method, density, report, video, reference);
                    points.Add(point);
                    progress?.Invoke($"{request.Prompt} seed {request.Seed}: {method} at {density:P0}: density {point.Density:P1}, PSNR {point.Psnr:F2} dB, SSIM {point.Ssim:F4}");
                }
        }
        return points;
    }

    static Tensor Generate(VideoModel model, VideoPipeline pipeline, VideoRequest request, string method, Svg2Options options,
        DenseWarmupPolicy warmup, double? density, out GenerationReport report)
    {
        using var attention = AttentionSetup.Create(method, model.Transformer, options, warmup, density);
        model.Transformer.SelfAttentionProcessor = attention.Processor;
        pipeline.DensityMeter = attention.Meter;
        var (video, generated) = pipeline.Generate(request);
        report = generated;
        using (video) return VideoFrames.ToUInt8(video);
    }

    static QualityPoint Point(VideoRequest request, string method, double? target, GenerationReport report, Tensor video, Tensor reference)
    {
        var comparison = VideoComparison.Compute(video, reference, nameA: method, nameB: "dense");
        var sparse = report.Steps.Where(s => s.Density is not null).Select(s => s.Density!.Value).ToList();
        var denoising = report.Stages.First(s => s.Name == "denoising").Milliseconds;
        return new QualityPoint(request.Prompt, request.Seed, method, target, sparse.Count > 0 ? sparse.Average() : 1.0,
            report.Steps.Average(s => s.OverallDensity ?? 1.0), comparison.MeanPsnr, comparison.MeanSsim, comparison.MinPsnr,
            denoising / report.Steps.Count, report.Steps.Average(s => s.SelfAttentionMs));
    }
}
