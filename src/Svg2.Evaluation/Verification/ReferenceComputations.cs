using static TorchSharp.torch;

namespace Svg2.Evaluation.Verification;

/// <summary>
/// Float32 references the CUDA kernels are checked against that the library's own reference path
/// (Svg2.Algorithm) does not provide in this form: the full distance matrix (for tie tolerance) and a
/// dense element-masked attention (an oracle independent of the block formulation). Dense and small:
/// for test-sized problems only.
/// </summary>
internal static class ReferenceComputations
{
    /// <summary>Squared distances minus |x|^2 (which does not change the argmin): |c|^2 - 2 x.c, [G, N, K] float32.</summary>
    public static Tensor CentroidDistances(Tensor points, Tensor centroids)
    {
        var x = points.to(ScalarType.Float32);
        var c = centroids.to(ScalarType.Float32);
        return c.square().sum(-1).unsqueeze(1) - 2 * x.bmm(c.transpose(1, 2));
    }

    /// <summary>Exact attention of each query over the keys its cluster selected, original order, float32; rows with no key are 0.</summary>
    public static Tensor MaskedAttention(Tensor q, Tensor k, Tensor v, Tensor queryLabels, Tensor keyLabels, Tensor blockMask, double scale)
    {
        long groups = q.shape[0];
        var elementMask = blockMask.gather(1, queryLabels.unsqueeze(-1).expand(-1, -1, blockMask.shape[2]))
            .gather(2, keyLabels.unsqueeze(1).expand(-1, q.shape[1], -1));
        var scores = q.to(ScalarType.Float32).bmm(k.to(ScalarType.Float32).transpose(1, 2)) * scale;
        scores = scores.masked_fill(elementMask.logical_not(), double.NegativeInfinity);
        var probabilities = scores.softmax(-1).nan_to_num(0.0);
        return probabilities.bmm(v.to(ScalarType.Float32));
    }

    /// <summary>Labels in [0, clusters) drawn from a random subset of the clusters, so some clusters are empty.</summary>
    public static Tensor LabelsWithEmptyClusters(long groups, long tokens, int clusters, double usedFraction, Generator generator)
    {
        var labels = new long[groups * tokens];
        var random = new Random((int)randint(0, int.MaxValue, [1], generator: generator).item<long>());
        for (long g = 0; g < groups; g++)
        {
            var used = Enumerable.Range(0, clusters).OrderBy(_ => random.Next()).Take(Math.Max(1, (int)(clusters * usedFraction))).ToArray();
            for (long n = 0; n < tokens; n++) labels[g * tokens + n] = used[random.Next(used.Length)];
        }
        return tensor(labels, [groups, tokens]);
    }

    /// <summary>Standard normal q, k, v [G, N, D] drawn in that order from <paramref name="generator"/>, as bf16 on <paramref name="device"/>.</summary>
    public static (Tensor Q, Tensor K, Tensor V) RandomQkv(long groups, long tokens, long dim, Generator generator, Device device)
    {
        Tensor Draw() => randn([groups, tokens, dim], generator: generator).to(ScalarType.BFloat16).to(device);
        var q = Draw();
        var k = Draw();
        return (q, k, Draw());
    }

    /// <summary>
    /// Relative Frobenius error |a - b| / |b| in float64. Tensors of one shape are compared a leading slice (a head) at a
    /// time, so that a full-size video output needs float64 copies of one head rather than of the whole; others
    /// (broadcasting) in one piece.
    /// </summary>
    public static double RelativeError(Tensor actual, Tensor expected)
    {
        bool sliced = expected.dim() >= 2 && actual.shape.SequenceEqual(expected.shape);
        long slices = sliced ? expected.shape[0] : 1;
        double difference = 0, reference = 0;
        for (long i = 0; i < slices; i++)
        {
            using var scope = NewDisposeScope();
            var a = (sliced ? actual[i] : actual).to(ScalarType.Float64);
            var b = (sliced ? expected[i] : expected).to(ScalarType.Float64);
            difference += (a - b).square().sum().item<double>();
            reference += b.square().sum().item<double>();
        }
        return Math.Sqrt(difference) / Math.Max(Math.Sqrt(reference), 1e-30);
    }
}
