using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cuda.Verification;

/// <summary>
/// Float32 references the CUDA kernels are checked against, written directly from the specification
/// with TorchSharp operations (dense and small: for test-sized problems only).
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

    /// <summary>Member means in float32 ([G, K, D]) and sizes ([G, K] int64) for given labels; empty rows take <paramref name="previous"/>.</summary>
    public static (Tensor Means, Tensor Sizes) MemberMeans(Tensor points, Tensor labels, Tensor previous)
    {
        long groups = points.shape[0], dim = points.shape[2], clusters = previous.shape[1];
        var x = points.to(ScalarType.Float32);
        var sums = zeros([groups, clusters, dim], ScalarType.Float32, points.device).scatter_add_(1, labels.unsqueeze(-1).expand(-1, -1, dim), x);
        var sizes = zeros([groups, clusters], ScalarType.Int64, points.device).scatter_add_(1, labels, ones_like(labels));
        var means = sums / sizes.clamp_min(1).unsqueeze(-1).to(ScalarType.Float32);
        return (where(sizes.unsqueeze(-1) > 0, means, previous.to(ScalarType.Float32)), sizes);
    }

    /// <summary>The top-p selection in float32 with sorted probabilities; returns the mask and the sorted probabilities.</summary>
    public static (Tensor Mask, Tensor SortedProbabilities) Selection(Tensor queryCentroids, Tensor keyCentroids, Tensor keySizes, double topP, int minimumKept)
    {
        var scores = queryCentroids.to(ScalarType.Float32).bmm(keyCentroids.to(ScalarType.Float32).transpose(1, 2)) / Math.Sqrt(queryCentroids.shape[2]);
        var weights = keySizes.to(ScalarType.Float32).unsqueeze(1) * (scores - scores.amax([-1], keepdim: true)).exp();
        var probabilities = weights / weights.sum(-1, keepdim: true).clamp_min(1e-12);
        var (sorted, order) = probabilities.sort(-1, descending: true, stable: true);
        var before = sorted.cumsum(-1) - sorted;
        var rank = arange(sorted.shape[2], device: sorted.device).expand_as(sorted);
        var keep = (rank == 0) | (before <= topP) | (rank < minimumKept);
        var mask = zeros_like(keep).scatter_(-1, order, keep);
        return (mask, sorted);
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

    /// <summary>Relative Frobenius error |a - b| / |b| in float64.</summary>
    public static double RelativeError(Tensor actual, Tensor expected)
    {
        var a = actual.to(ScalarType.Float64);
        var b = expected.to(ScalarType.Float64);
        return (a - b).norm().item<double>() / Math.Max(b.norm().item<double>(), 1e-30);
    }
}
