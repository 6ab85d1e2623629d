using System.Diagnostics;
using Svg2.Models.Attention;
using Svg2.Models.Profiling;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>
/// Times transformer forwards of a Wan model with one self-attention processor: forward i runs as
/// denoising step i, so an SVG2 processor initialises its centroids in the first forward and
/// warm-starts them afterwards. Op classes and blocks are split by device events (no host
/// synchronisation inside a forward), so the device runs as it would in a sampling loop.
/// </summary>
public static class WanForwardBenchmark
{
    /// <summary>Runs <paramref name="forwards"/> forwards (at least 2) and summarises them.</summary>
    /// <param name="method">Name for reports.</param>
    /// <param name="model">The model; its processor and profiler are restored afterwards.</param>
    /// <param name="inputs">Inputs of every forward.</param>
    /// <param name="processor">The attention method to time.</param>
    /// <param name="forwards">Forwards to run; forward i is step i.</param>
    /// <param name="svg2">The SVG2 processor when measuring it, to read densities from its observer.</param>
    public static ForwardTiming Measure(string method, WanModel model, WanInputs inputs, ISelfAttentionProcessor processor, int forwards,
        Svg2AttentionProcessor? svg2 = null)
    {
        if (forwards < 2) throw new ArgumentException($"At least 2 forwards are needed (the first is timed apart); got {forwards}.");
        using var timeline = new DeviceTimeline(model.Device);
        var profiler = new OpClassProfiler(timeline);
        // Densities stay on the device until the forward has ended: reading one inside would stall the queue.
        var densities = new List<Tensor>();
        if (svg2 is not null)
            svg2.Observer = (_, _, results) => densities.AddRange(results.Select(r => r.Density.clone().DetachFromDisposeScope()));
        var (previousProcessor, previousProfiler) = (model.SelfAttentionProcessor, model.Profiler);
        model.SelfAttentionProcessor = processor;
        model.Profiler = profiler;
        try
        {
            double first = 0;
            var later = new List<(ForwardProfile Profile, double HostMs)>();
            var laterDensities = new List<double>();
            for (int step = 0; step < forwards; step++)
            {
                profiler.Begin();
                var host = Stopwatch.StartNew();
                using (model.Forward(inputs, new ForwardContext(step)))
                {
                    double hostMs = host.Elapsed.TotalMilliseconds;
                    var profile = profiler.End();
                    if (step == 0) first = profile.TotalMs;
                    else later.Add((profile, hostMs));
                }
                if (step > 0) laterDensities.AddRange(densities.SelectMany(d => d.cpu().reshape(-1).data<double>().ToArray()));
                foreach (var d in densities) d.Dispose();
                densities.Clear();
            }
            var classMs = Enum.GetValues<WanOpClass>().ToDictionary(c => c, c => later.Average(l => l.Profile.ClassMs[c]));
            return new ForwardTiming(method, model.Config.Layers, first, later.Average(l => l.Profile.TotalMs), classMs,
                later.SelectMany(l => l.Profile.BlockMs).Average(), later.Average(l => l.HostMs),
                laterDensities.Count > 0 ? laterDensities.Average() : null);
        }
        finally
        {
            model.SelfAttentionProcessor = previousProcessor;
            model.Profiler = previousProfiler;
            if (svg2 is not null) svg2.Observer = null;
        }
    }
}
