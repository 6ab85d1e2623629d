using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Cuda;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// Checks that the CUDA path repeats bit for bit on one GPU (docs/cuda-performance.md, "Determinism"):
/// no kernel adds floats atomically (the k-means means sum each cluster's members in the counting
/// sort's order; the histogram's atomics add integers) and every reduction has a fixed order, so the
/// same call on the same inputs gives the same bits.
/// </summary>
public static class DeterminismConformance
{
    /// <summary>Runs every check on <paramref name="device"/>; a failed check never stops the others.</summary>
    public static IReadOnlyList<ConformanceResult> RunAll(Device device, int seed) =>
    [
        CudaConformance.Run("determinism: every stage twice, bit-identical (bf16 D128)", () => StagesRepeat(device, ScalarType.BFloat16, 128, seed)),
        CudaConformance.Run("determinism: every stage twice, bit-identical (fp16 D64)", () => StagesRepeat(device, ScalarType.Float16, 64, seed + 1)),
        CudaConformance.Run("determinism: fused operator twice from fresh states, cold then warm, bit-identical", () => OperatorRepeats(device, seed + 2)),
    ];

    /// <summary>
    /// k-means (few large clusters, where the means use their wide kernel, and many small ones), the
    /// cluster layouts, the selection in both precisions and the sparse attention, each run twice on
    /// the same inputs through new backend objects: every output bit for bit the same.
    /// </summary>
    public static (bool Passed, string Detail) StagesRepeat(Device device, ScalarType dtype, int dim, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        const int Groups = 3, Tokens = 4096, QueryClusters = 16, KeyClusters = 256, Iterations = 3;
        var q = randn([Groups, Tokens, dim], generator: generator).to(dtype).to(device);
        var k = randn([Groups, Tokens, dim], generator: generator).to(dtype).to(device);
        var v = randn([Groups, Tokens, dim], generator: generator).to(dtype).to(device);
        var queryStart = q.narrow(1, 0, QueryClusters).clone();
        var keyStart = k.narrow(1, 0, KeyClusters).clone();

        List<Tensor> Run()
        {
            var backend = new CudaBackend();
            var query = backend.KMeans(q, queryStart, Iterations);
            var key = backend.KMeans(k, keyStart, Iterations);
            var queryLayout = backend.Layout(query.Labels, QueryClusters);
            var keyLayout = backend.Layout(key.Labels, KeyClusters);
            var mask = backend.SelectKeyClusters(query.Centroids, key.Centroids, key.Sizes, new SelectionRule(0.9, 0.1));
            var emulated = backend.SelectKeyClusters(query.Centroids, key.Centroids, key.Sizes, new SelectionRule(0.9, 0.1, SelectionPrecision.BFloat16Emulated));
            var output = backend.BlockSparseAttention(q, k, v, queryLayout, keyLayout, mask, 1.0 / Math.Sqrt(dim));
            return [query.Labels, query.Centroids, query.Sizes, key.Labels, key.Centroids, key.Sizes, queryLayout.Permutation, keyLayout.Permutation,
                    keyLayout.Offsets, mask, emulated, output];
        }
        var first = Run();
        var second = Run();
        long differences = first.Zip(second).Sum(pair => FusedOperatorConformance.Differences(pair.First, pair.Second));
        long nonFinite = first[^1].isfinite().logical_not().sum().item<long>();
        bool passed = differences == 0 && nonFinite == 0;
        return (passed, $"{differences} differing elements over labels, centroids, sizes, layouts, masks and output; {nonFinite} non-finite output elements");
    }

    /// <summary>
    /// The operator over the fused pipeline, cold then warm, run twice from fresh layer states with a new
    /// backend each time: outputs, densities, labels, masks and stored centroids bit for bit the same.
    /// </summary>
    public static (bool Passed, string Detail) OperatorRepeats(Device device, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var (q, k, v) = FusedOperatorConformance.ClusteredQkv(3000, generator, device);

        List<Tensor> Run()
        {
            using var backend = new CudaBackend();
            var attention = new Svg2Attention(FusedOperatorConformance.Options, backend);
            using var state = new Svg2LayerState();
            var outputs = new List<Tensor>();
            for (int call = 0; call < 2; call++)
            {
                using var result = attention.Forward(q, k, v, state);
                // Copies: the result and the pipeline behind it are released before the comparison.
                outputs.AddRange(new[] { result.Output, result.Density, result.Sparsity.QueryLabels, result.Sparsity.KeyLabels, result.Sparsity.BlockMask,
                                         state.QueryCentroids!, state.KeyCentroids! }.Select(t => t.clone()));
            }
            return outputs;
        }
        var first = Run();
        var second = Run();
        long differences = first.Zip(second).Sum(pair => FusedOperatorConformance.Differences(pair.First, pair.Second));
        bool passed = differences == 0;
        return (passed, $"{differences} differing elements over two calls' outputs, densities, labels, masks and centroids");
    }
}
