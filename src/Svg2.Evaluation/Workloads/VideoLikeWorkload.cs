using Svg2.Positional;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Workloads;

/// <summary>
/// A seeded synthetic attention workload that behaves like the self-attention of a video diffusion
/// transformer: tokens of a latent video grid carry the semantic feature of the background region or
/// moving object they belong to (plus spatially correlated texture and white noise), heads project
/// them to q, k and v, and Wan's 3D RoPE is applied to q and k. Local, temporal, semantic and mixed
/// heads give peaked attention of different geometry.
/// </summary>
/// <remarks>
/// Deterministic per seed: all random numbers are drawn on the CPU, then moved. Memory is
/// O(B x heads x S x D) for the outputs plus O(S x D) per head while generating; nothing is S x S.
/// </remarks>
public static class VideoLikeWorkload
{
    /// <summary>Width of the token feature vectors before the per-head projections.</summary>
    public const int FeatureDim = 64;

    /// <summary>Generates q, k, v [B, heads, S, D] for <paramref name="shape"/>.</summary>
    /// <param name="shape">Grid, heads, head dimension, text rows and batch.</param>
    /// <param name="seed">Seed of every random choice.</param>
    /// <param name="dtype">Floating dtype of q, k and v.</param>
    /// <param name="device">Device of q, k and v (the CPU when null).</param>
    /// <param name="profile">How peaked and separable the attention is; <see cref="VideoLikeProfile.Standard"/> when null.</param>
    public static VideoLikeSample Generate(VideoShape shape, int seed, ScalarType dtype = ScalarType.Float32, Device? device = null, VideoLikeProfile? profile = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        profile ??= VideoLikeProfile.Standard;
        if (dtype is not (ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64))
            throw new ArgumentException($"The workload dtype must be floating point; got {dtype}.", nameof(dtype));
        device ??= CPU;

        var random = new Random(seed);
        using var generator = new Generator((ulong)(uint)seed);
        var rope = new Rope3D(shape.HeadDim);
        var recipes = Enumerable.Range(0, shape.Heads).Select(h => HeadRecipe.For(h, random)).ToArray();
        long[] outputShape = [shape.Batch, shape.Heads, shape.SequenceLength, shape.HeadDim];
        var query = empty(outputShape, dtype, device);
        var key = empty(outputShape, dtype, device);
        var value = empty(outputShape, dtype, device);
        var segments = full(shape.Batch, shape.SequenceLength, -1L, ScalarType.Int64);

        for (int b = 0; b < shape.Batch; b++)
        {
            using var scope = NewDisposeScope();
            var scene = VideoScene.Sample(shape, random);
            segments[b].narrow(0, 0, shape.VideoTokens).copy_(tensor(scene.Segments.Select(s => (long)s).ToArray()));
            var features = TokenFeatures(shape, scene, profile, generator);
            for (int h = 0; h < shape.Heads; h++)
            {
                using var headScope = NewDisposeScope();
                var (q, k, v) = Head(shape, rope, recipes[h], profile, features, generator);
                query[b, h].copy_(q.to(dtype, device));
                key[b, h].copy_(k.to(dtype, device));
                value[b, h].copy_(v.to(dtype, device));
            }
        }

        return new VideoLikeSample(shape, query, key, value, recipes.Select(r => r.Kind).ToArray(), segments);
    }

    /// <summary>Feature vector of every token, float64 [S, FeatureDim]: segment feature + texture +
    /// white noise on video rows; prompt rows random, padding rows one shared feature.</summary>
    private static Tensor TokenFeatures(VideoShape shape, VideoScene scene, VideoLikeProfile profile, Generator generator)
    {
        using var scope = NewDisposeScope();
        var segmentFeatures = randn([scene.SegmentCount, FeatureDim], ScalarType.Float64, generator: generator);
        var labels = tensor(scene.Segments.Select(s => (long)s).ToArray());

        // Texture varies smoothly over space and time: coarse noise upsampled to the grid.
        long[] coarse = [1, FeatureDim, Math.Max(2, shape.Frames / 4), Math.Max(2, shape.Height / 6), Math.Max(2, shape.Width / 6)];
        var texture = nn.functional.interpolate(randn(coarse, ScalarType.Float64, generator: generator),
                [shape.Frames, shape.Height, shape.Width], mode: InterpolationMode.Trilinear, align_corners: true)
            .reshape(FeatureDim, shape.VideoTokens).t();
        texture = texture / texture.std();
        var video = segmentFeatures.index_select(0, labels) + profile.TextureWeight * texture
            + profile.WhiteNoiseWeight * randn([shape.VideoTokens, FeatureDim], ScalarType.Float64, generator: generator);
        if (shape.TextTokens == 0) return video.MoveToOuterDisposeScope();

        var prompt = randn([shape.PromptLength, FeatureDim], ScalarType.Float64, generator: generator);
        var padding = randn([1, FeatureDim], ScalarType.Float64, generator: generator).expand(shape.TextTokens - shape.PromptLength, FeatureDim)
            + 0.1 * randn([shape.TextTokens - shape.PromptLength, FeatureDim], ScalarType.Float64, generator: generator);
        return cat([video, prompt, padding], 0).MoveToOuterDisposeScope();
    }

    /// <summary>q, k, v of one head, float64 [S, D], RoPE applied to q and k.</summary>
    private static (Tensor Query, Tensor Key, Tensor Value) Head(VideoShape shape, Rope3D rope, HeadRecipe recipe, VideoLikeProfile profile, Tensor features, Generator generator)
    {
        using var scope = NewDisposeScope();
        int d = shape.HeadDim;
        var projection = randn([FeatureDim, d], ScalarType.Float64, generator: generator) / Math.Sqrt(FeatureDim);
        var keyProjection = projection + profile.KeyProjectionNoise * randn([FeatureDim, d], ScalarType.Float64, generator: generator) / Math.Sqrt(FeatureDim);
        var valueProjection = randn([FeatureDim, d], ScalarType.Float64, generator: generator) / Math.Sqrt(FeatureDim);
        var phases = rand([rope.Pairs], ScalarType.Float64, generator: generator) * (2 * Math.PI);

        var contentMask = PairMask(rope, p => HeadRecipe.IsContentPair(rope, p));
        var positionMask = PairMask(rope, p => recipe.IsPositionPair(rope, p));

        // Logits are q.k / sqrt(D); a unit vector scaled by sqrt(gain * sqrt(D)) on both sides gives
        // a logit of gain times the cosine similarity.
        double contentScale = Math.Sqrt(profile.LogitScale * recipe.ContentLogit * Math.Sqrt(d));
        double positionScale = Math.Sqrt(profile.LogitScale * recipe.PositionLogit * Math.Sqrt(d));
        var q = contentScale * UnitRows((features.matmul(projection)) * contentMask);
        var k = contentScale * UnitRows((features.matmul(keyProjection)) * contentMask);

        // The same constant vector in q and k: after RoPE its dot product is a sum of cos(freq * offset)
        // over the position pairs, a kernel that peaks at zero offset.
        var constant = stack([phases.cos(), phases.sin()], -1).reshape(d) * positionMask;
        constant = positionScale * constant / constant.norm();
        var position = cat([constant.expand(shape.VideoTokens, d), zeros(shape.TextTokens, d, ScalarType.Float64)], 0);
        q = rope.Apply((q + position).view(1, 1, shape.SequenceLength, d), shape.Frames, shape.Height, shape.Width);
        k = rope.Apply((k + position).view(1, 1, shape.SequenceLength, d), shape.Frames, shape.Height, shape.Width);
        var v = features.matmul(valueProjection).view(1, 1, shape.SequenceLength, d);
        return (q[0, 0].MoveToOuterDisposeScope(), k[0, 0].MoveToOuterDisposeScope(), v[0, 0].MoveToOuterDisposeScope());
    }

    private static Tensor PairMask(Rope3D rope, Func<int, bool> selected) =>
        tensor(Enumerable.Range(0, rope.HeadDim).Select(i => selected(i / 2) ? 1.0 : 0.0).ToArray());

    private static Tensor UnitRows(Tensor x) => x / x.norm(1, keepdim: true).clamp_min(1e-12);
}
