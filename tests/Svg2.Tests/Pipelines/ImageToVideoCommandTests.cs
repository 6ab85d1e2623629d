using System.CommandLine;
using System.Text.Json;
using Svg2.Cli.Commands;
using Svg2.Models.Video;
using Svg2.Tests.Cli;
using Svg2.Tests.Video;
using static TorchSharp.torch;

namespace Svg2.Tests.Pipelines;

[Collection(ConsoleCollection.Name)]
public sealed class ImageToVideoCommandTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("svg2-i2v-").FullName;
    readonly string _model;

    public ImageToVideoCommandTests()
    {
        _model = Path.Combine(_folder, "wan-i2v-tiny");
        TinyWanFolder.Write(_model, imageToVideo: true);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static int Invoke(params string[] args) => new RootCommand { GenerateCommand.Create() }.Parse(["generate", .. args]).Invoke();

    string[] Base(string output, params string[] more) =>
        ["--model-dir", _model, "--prompt", "the kite climbs", "--size", "32x32", "--frames", "5", "--steps", "2", "--device", "cpu", "--method", "dense", "--out", output, .. more];

    /// <summary>A seeded random 48x32 (W x H) PNG.</summary>
    string Image(string name, int seed)
    {
        string frames = Path.Combine(_folder, name + "-frames");
        using (var video = rand([1, 3, 1, 32, 48], generator: new Generator((ulong)seed)) * 2 - 1)
            PngFrames.Write(video, frames);
        string path = Path.Combine(_folder, name + ".png");
        File.Move(Path.Combine(frames, PngFrames.FrameName(0)), path);
        return path;
    }

    [Fact]
    public void WritesAnMp4OfTheImagesAspectRatioAtTheAreaWithAnImageEncodingStage()
    {
        _ = FFmpegForTests.Tools;
        string video = Path.Combine(_folder, "out.mp4"), report = Path.Combine(_folder, "run.json"), image = Image("first", 51);
        Assert.Equal(0, Invoke(Base(video, "--image", image, "--report", report)));

        // A 48x32 image at the area of 32x32: 32x16, the largest whole-token frame of its aspect ratio.
        string counted = FFmpegForTests.Run("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames,width,height",
            "-of", "csv=p=0", video).Trim();
        Assert.Equal("32,16,5", counted);
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var run = json.RootElement;
        Assert.Equal(image, run.GetProperty("image").GetString());
        Assert.Equal(32, run.GetProperty("width").GetInt32());
        Assert.Equal(16, run.GetProperty("height").GetInt32());
        Assert.Equal(["text encoding", "image encoding", "denoising", "decoding"],
            run.GetProperty("report").GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
    }

    [Fact]
    public void TheImageConditionsTheVideoAndTheSameInputsRepeatIt()
    {
        string a = Path.Combine(_folder, "a"), b = Path.Combine(_folder, "b"), c = Path.Combine(_folder, "c");
        string first = Image("one", 52), second = Image("two", 53);
        Assert.Equal(0, Invoke(Base(Path.Combine(_folder, "a.mp4"), "--image", first, "--lossless", a)));
        Assert.Equal(0, Invoke(Base(Path.Combine(_folder, "b.mp4"), "--image", first, "--lossless", b)));
        Assert.Equal(0, Invoke(Base(Path.Combine(_folder, "c.mp4"), "--image", second, "--lossless", c)));
        using var va = PngFrames.Read(a);
        using var vb = PngFrames.Read(b);
        using var vc = PngFrames.Read(c);
        Assert.True(va.equal(vb).all().item<bool>());
        Assert.False(va.equal(vc).all().item<bool>());
    }

    [Fact]
    public void AnUnreadableImageIsOneClearLineAndNoOutputFile()
    {
        string garbage = Path.Combine(_folder, "broken.png"), video = Path.Combine(_folder, "never.mp4");
        File.WriteAllBytes(garbage, [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        var (code, text) = StandardError.Capture(() => Invoke(Base(video, "--image", garbage)));
        Assert.Equal(2, code);
        Assert.StartsWith("error:", text.Trim());
        Assert.Contains("broken.png", text);
        var (missingCode, missingText) = StandardError.Capture(() => Invoke(Base(video, "--image", Path.Combine(_folder, "absent.jpg"))));
        Assert.Equal(2, missingCode);
        Assert.Contains("absent.jpg", missingText);
        Assert.False(File.Exists(video));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_folder, "never*"));
    }

    [Fact]
    public void AnImageNeedsAnImageToVideoModelAndSuchAModelNeedsAnImage()
    {
        string textModel = Path.Combine(_folder, "wan-t2v-tiny"), video = Path.Combine(_folder, "x.mp4");
        TinyWanFolder.Write(textModel);
        var (code, text) = StandardError.Capture(() => Invoke(Base(video, "--image", Image("img", 54)).Select(a => a == _model ? textModel : a).ToArray()));
        Assert.Equal(2, code);
        Assert.Contains("--image needs an image-to-video checkpoint", text);
        var (noImageCode, noImageText) = StandardError.Capture(() => Invoke(Base(video)));
        Assert.Equal(2, noImageCode);
        Assert.Contains("give the first frame with --image", noImageText);
        Assert.False(File.Exists(video));
    }
}
