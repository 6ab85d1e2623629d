using Svg2.Attention;
using Svg2.Models.Attention;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Models.Benchmarking;

/// <summary>
/// Times transformer forwards of a Wan model with one self-attention processor: forward i runs as
/// denoising step i, so an SVG2 processor initialises its centroids in the first forward and
/// warm-starts them afterwards. Per-block and attention times come from device synchronisation at
/// block and attention boundaries.
/// </summary>
public static class WanForwardBenchmark
{
    /// <summary>Runs <paramref name="forwards"/> forwards (at least 2) and summarises them.</summary>
    /// <param name="method">Name for reports.</param>
    /// <param name="model">The model; its processor is restored afterwards.</param>
    /// <param name="inputs">Inputs of every forward.</param>
    /// <param name="processor">The attention method to time.</param>
    /// <param name="forwards">Forwards to run; forward i is step i.</param>
    /// <param name="svg2">The SVG2 processor when measuring it, to read densities from its observer.</param>
    public static ForwardTiming Measure(string method, WanModel model, WanInputs inputs, ISelfAttentionProcessor processor, int forwards,
        Svg2AttentionProcessor? svg2 = null)
    {
        if (forwards < 2) throw new ArgumentException($"At least 2 forwards are needed (the first is timed apart); got {forwards}.");
        var clock = new DeviceClock(model.Device);
        var timed = new TimedProcessor(processor, clock);
        var densities = new List<double>();
        if (svg2 is not null)
            svg2.Observer = (_, _, results) => densities.AddRange(results.SelectMany(r => r.DensityPerHead()));
        var previous = model.SelfAttentionProcessor;
        model.SelfAttentionProcessor = timed;
        try
        {
            double first = 0, total = 0, attention = 0;
            var blockSpans = new List<double>();
            for (int step = 0; step < forwards; step++)
            {
                timed.AttentionMs = 0;
                var spans = new List<double>();
                double start = clock.NowMs();
                double blockStart = start;
                using var output = model.Forward(inputs, new ForwardContext(step), (_, _) =>
                {
                    double now = clock.NowMs();
                    spans.Add(now - blockStart);
                    blockStart = now;
                });
                double elapsed = clock.NowMs() - start;
                if (step == 0) { first = elapsed; continue; }
                total += elapsed;
                attention += timed.AttentionMs;
                // The first block's span also holds the embeddings; it stands in only when it is the only block.
                blockSpans.AddRange(spans.Count > 1 ? spans.Skip(1) : spans);
            }
            int later = forwards - 1;
            double forward = total / later;
            double perBlock = blockSpans.Average();
            return new ForwardTiming(method, model.Config.Layers, first, forward, attention / later, perBlock, forward - perBlock * model.Config.Layers,
                densities.Count > 0 ? densities.Average() : null);
        }
        finally
        {
            model.SelfAttentionProcessor = previous;
            if (svg2 is not null) svg2.Observer = null;
        }
    }

    sealed class TimedProcessor(ISelfAttentionProcessor inner, DeviceClock clock) : ISelfAttentionProcessor
    {
        public double AttentionMs { get; set; }

        public Tensor Process(AttentionCall call)
        {
            double start = clock.NowMs();
            var output = inner.Process(call);
            AttentionMs += clock.NowMs() - start;
            return output;
        }
    }
}
