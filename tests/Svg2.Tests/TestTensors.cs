using static TorchSharp.torch;

namespace Svg2.Tests;

/// <summary>Seeded inputs and float64 oracles shared by the tests.</summary>
internal static class TestTensors
{
    public static Generator Seeded(int seed) => new((ulong)seed);

    /// <summary>Standard normal [shape] in float32 from a seeded generator, then cast.</summary>
    public static Tensor Normal(int seed, long[] shape, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        using var generator = Seeded(seed);
        return randn(shape, ScalarType.Float32, generator: generator).to(dtype).to(device ?? CPU);
    }

    /// <summary>Random labels in [0, clusters) that leave the listed clusters empty.</summary>
    public static Tensor LabelsWithEmptyClusters(int seed, long groups, long tokens, int clusters, params int[] empty)
    {
        using var generator = Seeded(seed);
        var allowed = Enumerable.Range(0, clusters).Except(empty).ToArray();
        var picks = randint(0, allowed.Length, [groups, tokens], ScalarType.Int64, generator: generator);
        return tensor(allowed.Select(a => (long)a).ToArray()).index_select(0, picks.reshape(-1)).reshape(groups, tokens);
    }

    /// <summary>
    /// softmax(q k^T * scale masked) v in float64 with an explicit element mask [G, Nq, Nk];
    /// rows with no allowed key are 0.
    /// </summary>
    public static Tensor MaskedAttention64(Tensor q, Tensor k, Tensor v, Tensor allowed, double scale)
    {
        var scores = q.to(ScalarType.Float64).bmm(k.to(ScalarType.Float64).transpose(1, 2)) * scale;
        scores = scores.masked_fill(allowed.logical_not(), double.NegativeInfinity);
        var probabilities = scores.softmax(-1).nan_to_num(0.0);
        return probabilities.bmm(v.to(ScalarType.Float64));
    }

    /// <summary>||actual - expected|| / ||expected|| in float64.</summary>
    public static double RelativeError(Tensor actual, Tensor expected)
    {
        var a = actual.to(ScalarType.Float64).cpu();
        var e = expected.to(ScalarType.Float64).cpu();
        return (a - e).norm().item<double>() / Math.Max(e.norm().item<double>(), 1e-300);
    }

    /// <summary>Same shape and bit-identical values.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    public static long[] Longs(Tensor t) => t.cpu().to(ScalarType.Int64).reshape(-1).data<long>().ToArray();
    public static bool[] Bools(Tensor t) => t.cpu().reshape(-1).data<bool>().ToArray();
    public static float[] Floats(Tensor t) => t.cpu().to(ScalarType.Float32).reshape(-1).data<float>().ToArray();
}
