using Svg2.Models.Pipelines;
using static TorchSharp.torch;

namespace Svg2.Tests.Pipelines;

/// <summary>
/// A codec for pipeline tests: each latent pixel stands for a 2x2 block of pixels, and the first three
/// latent channels are the colour (squashed into [-1, 1]); encoding averages the blocks back.
/// </summary>
sealed class BlockCodec(int channels) : IVideoLatentCodec
{
    public int LatentChannels => channels;
    public int TemporalCompression => 1;
    public int SpatialCompression => 2;

    public Tensor Encode(Tensor video)
    {
        using var pooled = nn.functional.avg_pool3d(video.to(ScalarType.Float32), [1, 2, 2]);
        return cat([pooled, zeros([1, channels - 3, pooled.shape[2], pooled.shape[3], pooled.shape[4]])], 1);
    }

    public Tensor Decode(Tensor latents)
    {
        using var colour = latents.narrow(1, 0, 3).tanh();
        return colour.repeat_interleave(2, 3).repeat_interleave(2, 4).to(ScalarType.Float32);
    }
}

/// <summary>A prompt encoder for pipeline tests: a seeded random token per character (at most 6), the empty prompt one zero token.</summary>
sealed class HashPromptEncoder(int width) : IPromptEncoder
{
    public int ContextDim => width;
    public int Calls { get; private set; }

    public Tensor Encode(string prompt)
    {
        Calls++;
        if (prompt.Length == 0) return zeros(1, 1, width);
        var tokens = prompt.Take(6).Select(c => randn([1, 1, width], generator: new Generator((ulong)c))).ToList();
        return cat(tokens, 1);
    }
}

/// <summary>An image encoder for pipeline tests: three seeded tokens shifted by the image's mean.</summary>
sealed class MeanImageEncoder(int width) : IImageEncoder
{
    public int FeatureDim => width;
    public int Calls { get; private set; }

    public Tensor Encode(Tensor image)
    {
        Calls++;
        using var tokens = randn([1, 3, width], generator: new Generator(77));
        return tokens + image.mean().item<float>();
    }
}
