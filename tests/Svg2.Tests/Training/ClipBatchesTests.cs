using Svg2.Models.Data;
using Svg2.Models.Small;
using Svg2.Models.Training;
using Svg2.Tests.Small;
using static TorchSharp.torch;

namespace Svg2.Tests.Training;

public sealed class ClipBatchesTests
{
    // Training clips per source in the skewed dataset: a long source, a middling one and a single clip.
    static readonly long[] ClipsPerSource = [8, 3, 1];
    const int Draws = 6000;
    const int BatchSize = 500;

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    public void SourcesAreDrawnInProportionToTheirClipsToTheMinusBeta(double balance)
    {
        using var data = SkewedDataset(seed: 11);
        using var batches = new ClipBatches(data, Codec(), CPU, horizontalFlip: true, balance);
        using var generator = new Generator(5);
        var counts = new long[ClipsPerSource.Length];
        for (int drawn = 0; drawn < Draws; drawn += BatchSize)
        {
            var (latents, sources) = batches.Next(BatchSize, generator);
            using (latents) using (sources)
                foreach (long source in sources.data<long>()) counts[source]++;
        }
        var weights = ClipsPerSource.Select(n => Math.Pow(n, 1 - balance)).ToArray();
        for (int source = 0; source < counts.Length; source++)
        {
            double expected = weights[source] / weights.Sum();
            double share = (double)counts[source] / Draws;
            // Five binomial standard deviations of the share.
            double tolerance = 5 * Math.Sqrt(expected * (1 - expected) / Draws);
            Assert.True(Math.Abs(share - expected) <= tolerance, $"β {balance}, source {source}: drawn {share:F4}, expected {expected:F4} ± {tolerance:F4}");
        }
    }

    [Fact]
    public void WithoutBalanceTheDrawIsTheUniformDrawOfClips()
    {
        using var data = SkewedDataset(seed: 12);
        using var batches = new ClipBatches(data, Codec(), CPU, horizontalFlip: false);
        using var drawing = new Generator(9);
        var (latents, sources) = batches.Next(64, drawing);
        using var replay = new Generator(9);
        using var picks = randint(0, batches.TrainingCount, [64], ScalarType.Int64, generator: replay);
        using var trainingSources = data.Source[data.HeldOut.to(ScalarType.Bool).logical_not()];
        using var expected = trainingSources.index_select(0, picks);
        using (latents) using (sources)
            Assert.Equal(expected.data<long>().ToArray(), sources.data<long>().ToArray());
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void ABalanceOutsideTheUnitIntervalIsRefused(double balance)
    {
        using var data = SkewedDataset(seed: 13);
        var error = Assert.Throws<ArgumentException>(() => new ClipBatches(data, Codec(), CPU, horizontalFlip: false, balance));
        Assert.Contains("Source balance", error.Message);
        Assert.Throws<ArgumentException>(() => (TinyFootage.Options(2) with { SourceBalance = balance }).Validate());
    }

    static PixelUnshuffleCodec Codec() => new(4, ChannelNormalisation.Identity(48));

    // The tiny footage's pixels with sources reassigned to 8, 3 and 1 training clips, and one held-out clip of source 2.
    static ClipDataset SkewedDataset(int seed)
    {
        int training = (int)ClipsPerSource.Sum();
        using var tiny = TinyFootage.Dataset(seed, clips: training + 1, heldOut: 1);
        var sources = ClipsPerSource.SelectMany((n, source) => Enumerable.Repeat((long)source, (int)n)).Append(2L).ToArray();
        return new ClipDataset(tiny.Clips.clone(), tensor(sources), tiny.HeldOut.clone(), TinyFootage.Sources, tiny.Fps);
    }
}
