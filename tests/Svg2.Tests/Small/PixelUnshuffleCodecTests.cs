using Svg2.Models.Small;
using static TorchSharp.torch;

namespace Svg2.Tests.Small;

public sealed class PixelUnshuffleCodecTests
{
    static ChannelNormalisation RandomNormalisation(int seed, int channels)
    {
        using var generator = new Generator((ulong)seed);
        var mean = (rand([channels], ScalarType.Float64, generator: generator) - 0.5).data<double>().ToArray();
        var std = (rand([channels], ScalarType.Float64, generator: generator) + 0.2).data<double>().ToArray();
        return new ChannelNormalisation(mean, std);
    }

    [Fact]
    public void EncodeThenDecodeGivesTheVideoBack()
    {
        var codec = new PixelUnshuffleCodec(4, RandomNormalisation(1, 48));
        var video = TestTensors.Normal(2, [2, 3, 5, 8, 12]).tanh();
        using var latents = codec.Encode(video);
        Assert.Equal(new long[] { 2, 48, 5, 2, 3 }, latents.shape);
        using var back = codec.Decode(latents);
        Assert.Equal(video.shape, back.shape);
        Assert.True(TestTensors.RelativeError(back, video) < 1e-6);
        Assert.Equal(1, codec.TemporalCompression);
        Assert.Equal(4, codec.SpatialCompression);
    }

    [Fact]
    public void ChannelsFollowPixelUnshuffleOrderAndNormalise()
    {
        var normalisation = RandomNormalisation(3, 12);
        var codec = new PixelUnshuffleCodec(2, normalisation);
        var video = TestTensors.Normal(4, [1, 3, 2, 4, 6]);
        using var latents = codec.Encode(video);
        // Channel c f^2 + i f + j holds colour c at row i, column j of each 2x2 block.
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                {
                    int channel = c * 4 + i * 2 + j;
                    double pixel = video[0, c, 1, 2 + i, 4 + j].item<float>();
                    double expected = (pixel - normalisation.Mean[channel]) / normalisation.Std[channel];
                    Assert.Equal(expected, latents[0, channel, 1, 1, 2].item<float>(), 4);
                }
    }

    [Fact]
    public void MeasuredStatisticsMatchAFloat64Loop()
    {
        using var data = TinyFootage.Dataset(5, clips: 2, frames: 2, height: 8, width: 8, heldOut: 0);
        var measured = ChannelNormalisation.Measure(data.Clips, 4);
        var bytes = data.Clips.data<byte>().ToArray();
        int n = 2, f = 2, h = 8, w = 8;
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                {
                    var values = new List<double>();
                    for (int clip = 0; clip < n; clip++)
                        for (int frame = 0; frame < f; frame++)
                            for (int y = i; y < h; y += 4)
                                for (int x = j; x < w; x += 4)
                                    values.Add(bytes[(((clip * f + frame) * h + y) * w + x) * 3 + c] / 127.5 - 1);
                    double mean = values.Average();
                    double std = Math.Max(ChannelNormalisation.MinStd, Math.Sqrt(values.Average(v => (v - mean) * (v - mean))));
                    int channel = c * 16 + i * 4 + j;
                    Assert.Equal(mean, measured.Mean[channel], 12);
                    Assert.Equal(std, measured.Std[channel], 10);
                }
    }

    [Fact]
    public void BadShapesAreNamed()
    {
        var codec = new PixelUnshuffleCodec(4, ChannelNormalisation.Identity(48));
        Assert.Contains("multiple of the spatial factor", Assert.Throws<ArgumentException>(() => codec.Encode(zeros(new long[] { 1, 3, 2, 10, 8 }))).Message);
        Assert.Contains("[B, 3, F, H, W]", Assert.Throws<ArgumentException>(() => codec.Encode(zeros(new long[] { 1, 4, 2, 8, 8 }))).Message);
        Assert.Contains("48", Assert.Throws<ArgumentException>(() => codec.Decode(zeros(new long[] { 1, 12, 2, 2, 2 }))).Message);
        Assert.Contains("needs 48", Assert.Throws<ArgumentException>(() => new PixelUnshuffleCodec(4, ChannelNormalisation.Identity(12))).Message);
    }
}
