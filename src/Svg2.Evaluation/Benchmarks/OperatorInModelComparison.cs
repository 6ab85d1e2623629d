using Svg2.Models.Attention;
using Svg2.Models.Profiling;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>
/// The SVG2 operator timed on its own on one layer's q, k, v as the model produced them, with that
/// layer's cache and top-p: what the attention costs outside the model, to compare with its time inside.
/// </summary>
public static class OperatorInModelComparison
{
    /// <summary>
    /// Runs one more forward (step <paramref name="step"/>) that keeps layer 0's q, k, v (same layout),
    /// then times <paramref name="iterations"/> calls on them of the SVG2 operator (with that layer's
    /// cache and top-p; each call updates the cache, as the next step would) and of dense SDPA.
    /// </summary>
    /// <returns>Mean milliseconds of one SVG2 call, the mean density of those calls, and mean milliseconds of one dense call.</returns>
    public static (double Svg2Ms, double Svg2Density, double DenseMs) StandaloneMs(WanModel model, WanInputs inputs, Svg2AttentionProcessor svg2, int step, int iterations)
    {
        var capture = new CapturingProcessor(svg2);
        var previous = model.SelfAttentionProcessor;
        model.SelfAttentionProcessor = capture;
        try
        {
            model.Forward(inputs, new ForwardContext(step)).Dispose();
        }
        finally
        {
            model.SelfAttentionProcessor = previous;
        }
        var (q, k, v) = capture.Captured ?? throw new InvalidOperationException("The forward made no layer-0 attention call.");
        using var _ = q;
        using var __ = k;
        using var ___ = v;
        var state = svg2.State.For(0);
        using var timeline = new DeviceTimeline(model.Device);
        double Time(Func<IDisposable> call)
        {
            call().Dispose();
            int start = timeline.Mark();
            for (int i = 0; i < iterations; i++) call().Dispose();
            return timeline.Between(start, timeline.Mark()) / iterations;
        }
        // Densities stay on the device until the timing ends: reading one would synchronise inside it.
        var densities = new List<Tensor>();
        double sparse = Time(() =>
        {
            var result = svg2.Attention.Forward(q, k, v, state);
            densities.Add(result.Density.clone());
            return result;
        });
        double density = densities.Skip(1).Average(d => d.mean().cpu().item<double>());
        foreach (var d in densities) d.Dispose();
        double dense = Time(() => nn.functional.scaled_dot_product_attention(q, k, v));
        return (sparse, density, dense);
    }

    sealed class CapturingProcessor(ISelfAttentionProcessor inner) : ISelfAttentionProcessor
    {
        public (Tensor Q, Tensor K, Tensor V)? Captured { get; private set; }

        public Tensor Process(AttentionCall call)
        {
            // clone() keeps the strides of a dense view, so the operator sees the model's layouts.
            if (call.Layer == 0)
                Captured = (call.Query.clone().DetachFromDisposeScope(), call.Key.clone().DetachFromDisposeScope(), call.Value.clone().DetachFromDisposeScope());
            return inner.Process(call);
        }
    }
}
