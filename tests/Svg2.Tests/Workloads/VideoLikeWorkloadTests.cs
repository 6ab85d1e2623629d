using Svg2.Evaluation.Workloads;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Svg2.Tests.Workloads;

public class VideoLikeWorkloadTests(ITestOutputHelper output)
{
    // Big enough for objects and neighbourhoods, small enough for dense float64 attention in a test.
    private static readonly VideoShape Probe = new(4, 12, 16, 8, 64);

    [Fact]
    public void ProducesBatchHeadsSequenceHeadDim()
    {
        using var sample = VideoLikeWorkload.Generate(VideoShape.Tiny, seed: 1);
        long[] expected = [1, 4, 192, 32];
        Assert.Equal(expected, sample.Query.shape);
        Assert.Equal(expected, sample.Key.shape);
        Assert.Equal(expected, sample.Value.shape);
        Assert.Equal(ScalarType.Float32, sample.Query.dtype);
        Assert.Equal([1L, 192], sample.Segments.shape);
        Assert.Equal(4, sample.HeadKinds.Count);
        Assert.Equal(4, sample.HeadKinds.Distinct().Count());
    }

    [Fact]
    public void TextRowsFollowTheVideoRows()
    {
        var shape = new VideoShape(2, 4, 6, 4, 32, TextTokens: 16, PromptLength: 5, Batch: 2);
        using var sample = VideoLikeWorkload.Generate(shape, seed: 2, ScalarType.BFloat16);
        Assert.Equal([2L, 4, 64, 32], sample.Query.shape);
        Assert.Equal(ScalarType.BFloat16, sample.Key.dtype);
        var segments = TestTensors.Longs(sample.Segments);
        for (int b = 0; b < 2; b++)
        {
            Assert.All(segments.Skip(b * 64).Take(48), s => Assert.True(s >= 0));
            Assert.All(segments.Skip(b * 64 + 48).Take(16), s => Assert.Equal(-1, s));
        }

        // Padding rows share one feature, so their keys are far more alike than prompt keys.
        var keys = sample.Key[0, 0].to(ScalarType.Float32);
        double promptSpread = keys.narrow(0, 48, 5).std(0).mean().item<float>();
        double paddingSpread = keys.narrow(0, 53, 11).std(0).mean().item<float>();
        Assert.True(paddingSpread < 0.5 * promptSpread, $"padding spread {paddingSpread}, prompt spread {promptSpread}");
    }

    [Fact]
    public void DeterministicPerSeedAndDifferentAcrossSeeds()
    {
        using var first = VideoLikeWorkload.Generate(VideoShape.Tiny, seed: 42);
        using var again = VideoLikeWorkload.Generate(VideoShape.Tiny, seed: 42);
        using var other = VideoLikeWorkload.Generate(VideoShape.Tiny, seed: 43);
        Assert.True(first.Query.eq(again.Query).all().item<bool>());
        Assert.True(first.Key.eq(again.Key).all().item<bool>());
        Assert.True(first.Value.eq(again.Value).all().item<bool>());
        Assert.True(first.Segments.eq(again.Segments).all().item<bool>());
        Assert.True(TestTensors.RelativeError(other.Query, first.Query) > 0.5);
        Assert.False(first.Segments.eq(other.Segments).all().item<bool>());
    }

    [Fact]
    public void NonFloatingDtypeIsRejected() =>
        Assert.Contains("floating point", Assert.Throws<ArgumentException>(() => VideoLikeWorkload.Generate(VideoShape.Tiny, 0, ScalarType.Int32)).Message);

    [Fact]
    public void ValuesAreFinite()
    {
        using var sample = VideoLikeWorkload.Generate(Probe, seed: 3);
        foreach (var t in new[] { sample.Query, sample.Key, sample.Value })
            Assert.True(t.isfinite().all().item<bool>());
    }

    [Fact]
    public void WanSizedGridNeedsNoQuadraticMemory()
    {
        // One head at Wan 720p: S x S float32 scores would be 23 GB; the outputs are 39 MB each.
        var shape = VideoShape.Wan14B720p with { Heads = 1 };
        using var sample = VideoLikeWorkload.Generate(shape, seed: 0, ScalarType.BFloat16);
        Assert.Equal([1L, 1, 75_600, 128], sample.Key.shape);
        Assert.True(sample.Key.isfinite().all().item<bool>());
    }

    [Fact]
    public void HeadTypesAttendDifferently()
    {
        using var sample = VideoLikeWorkload.Generate(Probe, seed: 4);
        var segments = TestTensors.Longs(sample.Segments);
        var kinds = sample.HeadKinds;
        var sameSegment = new double[Probe.Heads];
        var neighbourhood = new double[Probe.Heads];
        var sameSpotOtherFrames = new double[Probe.Heads];
        int s = Probe.SequenceLength;
        for (int h = 0; h < Probe.Heads; h++)
        {
            var weights = Attention64(sample.Query[0, h], sample.Key[0, h]);
            for (int i = 0; i < s; i++)
            {
                var (ti, yi, xi) = Grid(i);
                for (int j = 0; j < s; j++)
                {
                    var (tj, yj, xj) = Grid(j);
                    double p = weights[(long)i * s + j];
                    if (segments[i] == segments[j]) sameSegment[h] += p;
                    if (ti == tj && Math.Abs(yi - yj) <= 2 && Math.Abs(xi - xj) <= 2) neighbourhood[h] += p;
                    if (ti != tj && Math.Abs(yi - yj) <= 1 && Math.Abs(xi - xj) <= 1) sameSpotOtherFrames[h] += p;
                }
            }
        }

        double Mean(double[] values, HeadKind kind) => Enumerable.Range(0, Probe.Heads).Where(h => kinds[h] == kind).Average(h => values[h] / s);
        foreach (var kind in kinds.Distinct())
            output.WriteLine($"{kind}: same segment {Mean(sameSegment, kind):F3}, 5x5 same frame {Mean(neighbourhood, kind):F3}, 3x3 other frames {Mean(sameSpotOtherFrames, kind):F3}");
        Assert.True(Mean(sameSegment, HeadKind.Semantic) > Mean(sameSegment, HeadKind.LocalSpatial),
            $"same-object mass: semantic {Mean(sameSegment, HeadKind.Semantic):F3}, local {Mean(sameSegment, HeadKind.LocalSpatial):F3}");
        Assert.True(Mean(neighbourhood, HeadKind.LocalSpatial) > 1.5 * Mean(neighbourhood, HeadKind.Semantic),
            $"5x5 same-frame mass: local {Mean(neighbourhood, HeadKind.LocalSpatial):F3}, semantic {Mean(neighbourhood, HeadKind.Semantic):F3}");
        Assert.True(Mean(sameSpotOtherFrames, HeadKind.Temporal) > 2 * Mean(sameSpotOtherFrames, HeadKind.LocalSpatial),
            $"same place, other frames: temporal {Mean(sameSpotOtherFrames, HeadKind.Temporal):F3}, local {Mean(sameSpotOtherFrames, HeadKind.LocalSpatial):F3}");
    }

    private static (int T, int Y, int X) Grid(int token) =>
        (token / Probe.TokensPerFrame, token / Probe.Width % Probe.Height, token % Probe.Width);

    private static double[] Attention64(Tensor q, Tensor k)
    {
        using var scope = NewDisposeScope();
        var scores = q.to(ScalarType.Float64).matmul(k.to(ScalarType.Float64).t()) / Math.Sqrt(q.shape[1]);
        return scores.softmax(-1).data<double>().ToArray();
    }
}
