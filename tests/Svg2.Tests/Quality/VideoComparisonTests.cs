using Svg2.Models.Quality;
using Svg2.Tests.Video;
using static TorchSharp.torch;

namespace Svg2.Tests.Quality;

public sealed class VideoComparisonTests
{
    [Fact]
    public void AVideoAgainstItselfIsIdentical()
    {
        using var video = TestVideos.Noise(41, 5, 9, 14);
        var comparison = VideoComparison.Compute(video, video);
        Assert.Equal(5, comparison.IdenticalFrames);
        Assert.True(double.IsPositiveInfinity(comparison.MeanPsnr));
        Assert.Equal(1.0, comparison.MeanSsim, 1e-15);
    }

    [Fact]
    public void TheMeanCapsAnIdenticalFrameAtOneHundredDecibels()
    {
        using var a = TestVideos.Noise(42, 6, 8, 8);
        using var b = a.clone();
        using (var shifted = b[1..]) shifted.copy_((a[1..].to(ScalarType.Int32) + 3).clamp(0, 255).to(ScalarType.Byte));
        var comparison = VideoComparison.Compute(a, b);
        Assert.True(double.IsPositiveInfinity(comparison.Psnr[0]));
        Assert.Equal(1, comparison.IdenticalFrames);
        var expected = new[] { VideoComparison.PsnrCapDb }.Concat(Enumerable.Range(1, 5).Select(f =>
            ReferenceMetrics.Psnr(a[f].data<byte>().ToArray(), b[f].data<byte>().ToArray()))).Average();
        Assert.Equal(expected, comparison.MeanPsnr, 1e-9);
        Assert.True(double.IsPositiveInfinity(comparison.MaxPsnr));
    }

    [Fact]
    public void NamesTheVideosWhenFrameCountsOrSizesDiffer()
    {
        using var a = TestVideos.Noise(43, 4, 8, 8);
        using var fewer = TestVideos.Noise(44, 3, 8, 8);
        using var wider = TestVideos.Noise(45, 4, 8, 10);
        var frames = Assert.Throws<ArgumentException>(() => VideoComparison.Compute(a, fewer, nameA: "dense.mp4", nameB: "sparse.mp4"));
        Assert.Equal("dense.mp4 has 4 frames but sparse.mp4 has 3; compared videos need the same frame count.", frames.Message);
        var size = Assert.Throws<ArgumentException>(() => VideoComparison.Compute(a, wider, nameA: "dense.mp4", nameB: "sparse.mp4"));
        Assert.Contains("dense.mp4 is 8x8 but sparse.mp4 is 8x10", size.Message);
    }
}
