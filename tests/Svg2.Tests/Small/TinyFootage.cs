using Svg2.Models.Data;
using Svg2.Models.Small;
using Svg2.Models.Training;
using static TorchSharp.torch;

namespace Svg2.Tests.Small;

/// <summary>Seeded synthetic footage for CPU tests: per source a coloured square drifting over a tinted background, with pixel noise.</summary>
static class TinyFootage
{
    public static readonly string[] Sources = ["harbour", "forest", "street"];

    /// <summary>
    /// <paramref name="clips"/> clips [N, F, H, W, 3] uint8; clip i shows source i mod 3 (sources cycle, so every
    /// source has clips), and the last <paramref name="heldOut"/> clips are held out.
    /// </summary>
    public static ClipDataset Dataset(int seed, int clips = 9, int frames = 3, int height = 16, int width = 16, int heldOut = 3)
    {
        using var generator = new Generator((ulong)seed);
        var video = zeros(new long[] { clips, frames, height, width, 3 });
        var source = new long[clips];
        for (int clip = 0; clip < clips; clip++)
        {
            int kind = clip % Sources.Length;
            source[clip] = kind;
            var tint = tensor(new[] { 0.2f + 0.3f * kind, 0.6f - 0.2f * kind, 0.3f + 0.1f * kind });
            var offsets = randint(0, Math.Max(1, height / 2), [2], generator: generator).data<long>().ToArray();
            for (int frame = 0; frame < frames; frame++)
            {
                video[clip, frame].copy_(tint.expand(height, width, 3));
                long top = (offsets[0] + frame * (kind + 1)) % (height - 4), left = (offsets[1] + 2 * frame) % (width - 4);
                video[clip, frame].narrow(0, top, 4).narrow(1, left, 4).fill_(1 - 0.4 * kind);
            }
        }
        video += rand(video.shape, generator: generator) * 0.1;
        var bytes = (video.clamp(0, 1) * 255).round().to(ScalarType.Byte);
        var held = zeros(clips, ScalarType.Byte);
        if (heldOut > 0) held.narrow(0, clips - heldOut, heldOut).fill_(1);
        return new ClipDataset(bytes, tensor(source), held, Sources, 8.0);
    }

    /// <summary>A tiny run: a few steps of the tiny model in float32 on the CPU.</summary>
    public static TrainingOptions Options(int steps, int seed = 3) => new()
    {
        Model = "tiny", Steps = steps, Batch = 4, LearningRate = 3e-3, WarmupSteps = 3, Seed = seed,
        EvalEvery = 1000, CheckpointEvery = 1000, EvalLevels = 4, Precision = ComputePrecision.Float32,
    };

    /// <summary>The tiny model for the dataset's clips, Wan-initialised from <paramref name="seed"/>.</summary>
    public static SmallVideoModel Model(int seed, ChannelNormalisation? normalisation = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = SmallVideoConfig.Tiny(Sources, 3, 16, 16);
        var model = new SmallVideoModel(config, normalisation ?? ChannelNormalisation.Identity(config.LatentChannels), SmallVideoSampling.Default, CPU, dtype);
        model.Initialise(seed);
        return model;
    }
}
