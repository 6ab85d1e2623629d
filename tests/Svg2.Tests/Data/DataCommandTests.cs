using System.IO.Compression;
using Svg2.Cli.Commands;
using Svg2.Models.Data;
using Svg2.Tests.Cli;
using Svg2.Tests.Video;
using TorchSharp;

namespace Svg2.Tests.Data;

/// <summary><c>svg2 data</c> on ffmpeg's moving test pattern (every frame differs: a gradient scrolls), made in the test.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class DataCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-data-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static int Data(params string[] args) => DataCommand.Create().Parse(args).Invoke();

    /// <summary>Two sources in one folder: 50 frames as MP4 and 23 frames as gzip-compressed MP4, both at 10 fps.</summary>
    string Footage()
    {
        string footage = Directory.CreateDirectory(Path.Combine(folder, "footage")).FullName;
        FFmpegForTests.TestPattern(footage, "long.mp4", frames: 50, width: 64, height: 48, rate: 10);
        string plain = FFmpegForTests.TestPattern(folder, "short.mp4", frames: 23, width: 64, height: 48, rate: 10);
        using (var input = File.OpenRead(plain))
        using (var output = new GZipStream(File.Create(Path.Combine(footage, "short.mp4.gz")), CompressionLevel.Fastest))
            input.CopyTo(output);
        File.WriteAllText(Path.Combine(footage, "README.txt"), "not footage");
        return footage;
    }

    [Fact]
    public void CutsTheExpectedClipsAndHoldsOutFramesNoTrainingClipHas()
    {
        string footage = Footage(), output = Path.Combine(folder, "clips.safetensors");
        Assert.Equal(0, Data("--footage", footage, "--out", output, "--frames", "5", "--size", "32x48", "--heldout-fraction", "0.2", "--seed", "3"));

        using var dataset = ClipDataset.Read(output);
        // long.mp4: 20% of 50 frames is 2 clips held out; the other 40 frames give 8 training clips.
        // short.mp4: 20% of 23 frames rounds to 1 clip; 18 frames remain, 3 training clips.
        Assert.Equal(["long.mp4", "short.mp4"], dataset.Sources);
        Assert.Equal(10, dataset.Fps);
        Assert.Equal(new long[] { 14, 5, 32, 48, 3 }, dataset.Clips.shape);
        var sources = dataset.Source.data<long>().ToArray();
        var heldOut = dataset.HeldOut.data<byte>().ToArray();
        Assert.Equal(10, sources.Count(s => s == 0));
        Assert.Equal(3, Enumerable.Range(0, 14).Count(i => heldOut[i] == 1));
        Assert.Equal(2, Enumerable.Range(0, 14).Count(i => heldOut[i] == 1 && sources[i] == 0));

        for (int source = 0; source < 2; source++)
        {
            var training = FrameHashes(dataset, i => sources[i] == source && heldOut[i] == 0);
            var held = FrameHashes(dataset, i => sources[i] == source && heldOut[i] == 1);
            Assert.Equal(held.Count, held.Distinct().Count());
            Assert.Empty(held.Intersect(training));
        }
    }

    [Fact]
    public void ASizeBoundThinsTheClipsEvenlyAndKeepsAHeldOutOne()
    {
        string footage = Footage(), output = Path.Combine(folder, "small.safetensors");
        long clipBytes = 5L * 32 * 48 * 3 + 9;
        long bound = FootageDataset.BoundedFileBytes(5, clipBytes, ["long.mp4", "short.mp4"]);
        Assert.Equal(0, Data("--footage", footage, "--out", output, "--frames", "5", "--size", "32x48", "--heldout-fraction", "0.2", "--max-bytes", bound.ToString()));
        Assert.InRange(new FileInfo(output).Length, 5 * clipBytes, bound);
        using var dataset = ClipDataset.Read(output);
        Assert.Equal(5, dataset.Count);
        Assert.Equal(1, dataset.HeldOut.sum().ToInt64());
    }

    [Fact]
    public void ABoundBelowOneClipIsAnErrorAndWritesNothing()
    {
        string footage = Footage(), output = Path.Combine(folder, "none.safetensors");
        var (code, error) = StandardError.Capture(() => Data("--footage", footage, "--out", output, "--frames", "5", "--size", "32x48", "--max-bytes", "4K"));
        Assert.Equal(2, code);
        Assert.StartsWith("error: A size bound of 4096 bytes holds no clip", error);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void MissingFootageIsAnError()
    {
        var (code, error) = StandardError.Capture(() => Data("--footage", Path.Combine(folder, "absent"), "--out", Path.Combine(folder, "x.safetensors")));
        Assert.Equal(2, code);
        Assert.Contains("absent does not exist", error);
    }

    [Theory]
    [InlineData("1000", 1000L)]
    [InlineData("64M", 64L << 20)]
    [InlineData("2g", 2L << 30)]
    public void ByteCountsTakeBinarySuffixes(string text, long bytes) => Assert.Equal(bytes, DataCommand.ParseBytes(text));

    static List<string> FrameHashes(ClipDataset dataset, Func<int, bool> take)
    {
        var hashes = new List<string>();
        for (int clip = 0; clip < dataset.Count; clip++)
            if (take(clip))
                for (int frame = 0; frame < dataset.Clips.shape[1]; frame++)
                    hashes.Add(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(dataset.Clips[clip, frame].data<byte>().ToArray())));
        return hashes;
    }
}
