using System.Text.Json;
using Svg2.Cli.Commands;
using Svg2.Models.Video;
using Svg2.Tests.Cli;
using Svg2.Tests.Video;
using static TorchSharp.torch;

namespace Svg2.Tests.Quality;

[Collection(ConsoleCollection.Name)]
public sealed class CompareCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-compare-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static int Compare(params string[] args) => CompareCommand.Create().Parse(args).Invoke();

    string Frames(string name, Tensor video)
    {
        string path = Path.Combine(folder, name);
        PngFrames.Write(video, path);
        return path;
    }

    [Fact]
    public void AVideoAgainstItselfHasInfinitePsnrAndSsimOne()
    {
        using var video = TestVideos.Smooth(51, 4, 16, 24);
        string mp4 = Path.Combine(folder, "video.mp4"), json = Path.Combine(folder, "self.json"), csv = Path.Combine(folder, "self.csv");
        Mp4Writer.Write(video, mp4, 16, FFmpegForTests.Tools);
        Assert.Equal(0, Compare(mp4, mp4, "--json", json, "--csv", csv));

        using var report = JsonDocument.Parse(File.ReadAllText(json));
        var root = report.RootElement;
        Assert.Equal(4, root.GetProperty("frames").GetInt32());
        Assert.Equal(4, root.GetProperty("identicalFrames").GetInt32());
        Assert.Equal("Infinity", root.GetProperty("psnr").GetProperty("mean").GetString());
        Assert.Equal(1.0, root.GetProperty("ssim").GetProperty("mean").GetDouble(), 1e-15);
        Assert.Equal(100, root.GetProperty("psnrCapDb").GetDouble());
        Assert.Contains("LPIPS needs pretrained", root.GetProperty("lpips").GetString());
        Assert.All(File.ReadAllLines(csv).Skip(1), line => Assert.Matches(@"^\d,inf,1$", line));
    }

    [Fact]
    public void APerturbedVideoGivesThePsnrComputedByHand()
    {
        using var a = TestVideos.Smooth(52, 5, 20, 28);
        using var generator = new Generator(53);
        using var noise = randint(-6, 7, a.shape, ScalarType.Int32, generator: generator);
        using var b = (a.to(ScalarType.Int32) + noise).clamp(0, 255).to(ScalarType.Byte);
        string first = Frames("a", a), second = Frames("b", b);
        string json = Path.Combine(folder, "report.json"), plot = Path.Combine(folder, "curves.png");
        Assert.Equal(0, Compare(first, second, "--json", json, "--plot", plot));

        var expected = Enumerable.Range(0, 5).Select(f => ReferenceMetrics.Psnr(a[f].data<byte>().ToArray(), b[f].data<byte>().ToArray())).ToArray();
        using var report = JsonDocument.Parse(File.ReadAllText(json));
        var perFrame = report.RootElement.GetProperty("perFrame").EnumerateArray().Select(e => e.GetProperty("psnr").GetDouble()).ToArray();
        for (int f = 0; f < 5; f++) Assert.Equal(expected[f], perFrame[f], 1e-6);
        Assert.Equal(expected.Average(), report.RootElement.GetProperty("psnr").GetProperty("mean").GetDouble(), 1e-6);
        Assert.Equal(0, report.RootElement.GetProperty("identicalFrames").GetInt32());
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(plot).Take(4));
    }

    [Fact]
    public void DifferentFrameCountsAreAnErrorOnOneLine()
    {
        string a = Frames("four", TestVideos.Noise(54, 4, 8, 8)), b = Frames("three", TestVideos.Noise(55, 3, 8, 8));
        var (code, error) = StandardError.Capture(() => Compare(a, b));
        Assert.Equal(2, code);
        Assert.Equal($"error: {a} has 4 frames but {b} has 3; compared videos need the same frame count.", error.TrimEnd());
    }

    [Fact]
    public void DifferentSizesAreAnError()
    {
        string a = Frames("small", TestVideos.Noise(56, 2, 8, 8)), b = Frames("large", TestVideos.Noise(57, 2, 8, 12));
        var (code, error) = StandardError.Capture(() => Compare(a, b));
        Assert.Equal(2, code);
        Assert.Contains("is 8x8 but", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void AnUnreadableInputIsAnError()
    {
        string a = Frames("good", TestVideos.Noise(58, 2, 8, 8));
        string b = Path.Combine(folder, "broken.mp4");
        File.WriteAllText(b, "not a video");
        FFmpegForTests.Tools.RequireFFprobe();
        var (code, error) = StandardError.Capture(() => Compare(a, b));
        Assert.Equal(2, code);
        Assert.StartsWith($"error: ffprobe cannot read {b}", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }
}
