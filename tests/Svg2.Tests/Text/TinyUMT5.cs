using Svg2.Models.Text;
using static TorchSharp.torch;

namespace Svg2.Tests.Text;

/// <summary>Small umT5 encoders with seeded random weights, and an independent float64 forward.</summary>
internal static class TinyUMT5
{
    /// <summary>Width 32, 4 heads of 8, 2 layers, 8 buckets up to distance 16: offsets past 16 reach the outermost bucket.</summary>
    public static UMT5Config Config(int vocabulary = 64) => UMT5Config.Tiny with { VocabularySize = vocabulary };

    /// <summary>An encoder whose weights are seeded random values at scales that keep every part at work.</summary>
    public static UMT5Encoder Create(UMT5Config config, int seed, ScalarType dtype = ScalarType.Float32)
    {
        var encoder = new UMT5Encoder(config, CPU, dtype);
        Randomize(encoder, seed);
        return encoder;
    }

    /// <summary>Norm scales near 1, position biases of spread 0.5, linear weights scaled by their fan-in (queries also by the head width).</summary>
    public static void Randomize(UMT5Encoder encoder, int seed)
    {
        using var noGrad = no_grad();
        int index = 0;
        foreach (var (name, parameter) in encoder.named_parameters())
        {
            using var noise = TestTensors.Normal(seed * 1000 + index++, parameter.shape);
            double scale = name.EndsWith("norm1.weight") || name.EndsWith("norm2.weight") || name == "norm.weight" ? 0.1
                : name.Contains("pos_embedding") ? 0.5
                : name == "token_embedding.weight" ? 1.0
                : name.EndsWith("attn.q.weight") ? 1.0 / Math.Sqrt(parameter.shape[1] * encoder.Config.HeadDim)
                : 1.0 / Math.Sqrt(parameter.shape[1]);
            double offset = name.EndsWith("norm.weight") || name.EndsWith("norm1.weight") || name.EndsWith("norm2.weight") ? 1.0 : 0.0;
            parameter.copy_(noise * scale + offset);
        }
    }

    /// <summary>Bidirectional T5 bucket of one offset, in double precision from the formula of the T5 paper's code.</summary>
    public static long Bucket(long offset, int buckets, int maxDistance)
    {
        int half = buckets / 2, exact = half / 2;
        long bucket = offset > 0 ? half : 0;
        long distance = Math.Abs(offset);
        if (distance < exact) return bucket + distance;
        long large = exact + (long)(Math.Log((double)distance / exact) / Math.Log((double)maxDistance / exact) * (half - exact));
        return bucket + Math.Min(large, half - 1);
    }

    /// <summary>
    /// The encoder's forward in float64 from its parameters alone, with plain operations: RMS norms,
    /// unscaled attention with the per-layer position bias and masked keys, gated tanh-GELU feed-forward.
    /// </summary>
    public static Tensor Reference64(UMT5Encoder encoder, long[,] ids, int[]? lengths = null)
    {
        using var scope = NewDisposeScope();
        var config = encoder.Config;
        var weights = encoder.named_parameters().ToDictionary(p => p.name, p => p.parameter.to(ScalarType.Float64));
        int batch = ids.GetLength(0), length = ids.GetLength(1), heads = config.Heads, headDim = config.HeadDim;

        Tensor Norm(Tensor x, string name) => x * rsqrt(x.pow(2).mean([-1], keepdim: true) + config.Eps) * weights[name];
        Tensor Linear(Tensor x, string name) => x.matmul(weights[name].t());

        var tokenIds = tensor(Enumerable.Range(0, batch * length).Select(i => ids[i / length, i % length]).ToArray()).reshape(batch, length);
        var x = weights["token_embedding.weight"].index_select(0, tokenIds.reshape(-1)).reshape(batch, length, config.Dim);
        var allowed = (lengths is null ? ones(batch, length, dtype: ScalarType.Bool) : Mask(length, lengths).ne(0)).reshape(batch, 1, 1, length);

        var buckets = new long[length * length];
        for (int i = 0; i < length; i++)
            for (int j = 0; j < length; j++) buckets[i * length + j] = Bucket(j - i, config.PositionBuckets, config.MaxDistance);
        var bucketTensor = tensor(buckets);

        for (int layer = 0; layer < config.Layers; layer++)
        {
            string p = $"blocks.{layer}.";
            var bias = weights[p + "pos_embedding.embedding.weight"].index_select(0, bucketTensor).reshape(length, length, heads).permute(2, 0, 1);
            var h = Norm(x, p + "norm1.weight");
            Tensor Heads(Tensor t) => t.reshape(batch, length, heads, headDim).transpose(1, 2);
            var q = Heads(Linear(h, p + "attn.q.weight"));
            var k = Heads(Linear(h, p + "attn.k.weight"));
            var v = Heads(Linear(h, p + "attn.v.weight"));
            var scores = (q.matmul(k.transpose(2, 3)) + bias).masked_fill(allowed.logical_not(), double.NegativeInfinity);
            var attended = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(batch, length, -1);
            x = x + Linear(attended, p + "attn.o.weight");

            h = Norm(x, p + "norm2.weight");
            var gate = Linear(h, p + "ffn.gate.0.weight");
            var gelu = 0.5 * gate * (1 + tanh(Math.Sqrt(2 / Math.PI) * (gate + 0.044715 * gate.pow(3))));
            x = x + Linear(Linear(h, p + "ffn.fc1.weight") * gelu, p + "ffn.fc2.weight");
        }
        return Norm(x, "norm.weight").MoveToOuterDisposeScope();
    }

    /// <summary>Random ids in [3, vocabulary) with the end-of-sentence id 1 at each prompt's last position and padding 0 after it.</summary>
    public static long[,] Ids(int seed, int length, int vocabulary, params int[] lengths)
    {
        var random = new Random(seed);
        var ids = new long[lengths.Length, length];
        for (int b = 0; b < lengths.Length; b++)
            for (int i = 0; i < lengths[b]; i++) ids[b, i] = i == lengths[b] - 1 ? 1 : random.Next(3, vocabulary);
        return ids;
    }

    public static Tensor ToTensor(long[,] ids) =>
        tensor(ids.Cast<long>().ToArray()).reshape(ids.GetLength(0), ids.GetLength(1));

    public static Tensor Mask(int length, params int[] lengths) =>
        tensor(lengths.SelectMany(n => Enumerable.Range(0, length).Select(i => i < n ? 1L : 0L)).ToArray()).reshape(lengths.Length, length);
}
