using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Svg2.Cli.Commands;
using Svg2.IO;
using Svg2.Models.Video;
using Svg2.Tests.Cli;
using Svg2.Tests.Video;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Pipelines;

[Collection(ConsoleCollection.Name)]
public sealed class GenerateCommandTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("svg2-generate-").FullName;
    readonly string _model;

    public GenerateCommandTests()
    {
        _model = Path.Combine(_folder, "wan-tiny");
        TinyWanFolder.Write(_model);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static int Invoke(params string[] args) => new RootCommand { GenerateCommand.Create() }.Parse(["generate", .. args]).Invoke();

    string[] Base(string output, params string[] more) =>
        ["--model-dir", _model, "--prompt", "a red kite over the sea", "--size", "32x32", "--frames", "5", "--steps", "2", "--device", "cpu", "--out", output, .. more];

    [Fact]
    public void WritesAnMp4OfTheRequestedFramesLosslessFramesAndAReport()
    {
        _ = FFmpegForTests.Tools;
        string video = Path.Combine(_folder, "out.mp4"), frames = Path.Combine(_folder, "frames"), report = Path.Combine(_folder, "run.json");
        Assert.Equal(0, Invoke(Base(video, "--method", "dense", "--lossless", frames, "--report", report)));

        string counted = FFmpegForTests.Run("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames,width,height",
            "-of", "csv=p=0", video).Trim();
        Assert.Equal("32,32,5", counted);
        using var lossless = PngFrames.Read(frames);
        Assert.Equal(new long[] { 5, 32, 32, 3 }, lossless.shape);

        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var run = json.RootElement;
        Assert.Equal("dense", run.GetProperty("method").GetString());
        var steps = run.GetProperty("report").GetProperty("steps");
        Assert.Equal(2, steps.GetArrayLength());
        Assert.Equal(["text encoding", "denoising", "decoding"], run.GetProperty("report").GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
    }

    [Fact]
    public void TheSameSeedGivesTheSameFramesAndSparseAttentionChangesThem()
    {
        string dense = Path.Combine(_folder, "dense"), again = Path.Combine(_folder, "again"), sparse = Path.Combine(_folder, "sparse");
        Assert.Equal(0, Invoke(Base(Path.Combine(_folder, "a.mp4"), "--method", "dense", "--lossless", dense)));
        Assert.Equal(0, Invoke(Base(Path.Combine(_folder, "b.mp4"), "--method", "dense", "--lossless", again)));
        Assert.Equal(0, Invoke(Base(Path.Combine(_folder, "c.mp4"), "--method", "svg2", "--density", "0.3", "--dense-steps", "0.5", "--lossless", sparse)));
        using var a = PngFrames.Read(dense);
        using var b = PngFrames.Read(again);
        using var c = PngFrames.Read(sparse);
        Assert.True(a.equal(b).all().item<bool>());
        Assert.False(a.equal(c).all().item<bool>());
    }

    [Fact]
    public void Svg2EarTakesItsCompensationAndRoutingAndIsDrivenToTheDensity()
    {
        double SparseDensity(string method, string density, params string[] more)
        {
            string report = Path.Combine(_folder, $"{method}-{density}.json");
            Assert.Equal(0, Invoke(Base(Path.Combine(_folder, $"{method}-{density}.mp4"), ["--method", method, "--density", density, "--dense-steps", "0.5",
                "--report", report, .. more])));
            using var json = JsonDocument.Parse(File.ReadAllText(report));
            Assert.Equal(method, json.RootElement.GetProperty("method").GetString());
            return json.RootElement.GetProperty("report").GetProperty("steps").EnumerateArray().Last().GetProperty("density").GetDouble();
        }
        string[] ear = ["--routing", "top-p", "--compensation", "per-cluster"];
        // Top-p routing selects what SVG2 selects at the same target (the clustering is the same); the target is honoured.
        double low = SparseDensity("svg2-ear", "0.2", ear), high = SparseDensity("svg2-ear", "0.8", ear);
        Assert.Equal(SparseDensity("svg2", "0.2"), low, 6);
        Assert.True(high > low, $"density at target 0.8 ({high}) should exceed that at 0.2 ({low})");
    }

    [Theory]
    [InlineData("svg2", "--routing", "top-p", "only svg2-ear")]
    [InlineData("svg2-ear", "--top-p", "0.8", "--top-p applies to svg2")]
    [InlineData("blocks", "--compensation", "per-row", "only svg2-ear")]
    public void Svg2EarOptionsWithAMethodThatIgnoresThemAreRefused(string method, string option, string value, string expected)
    {
        string video = Path.Combine(_folder, "refused.mp4");
        var (code, text) = StandardError.Capture(() => Invoke(Base(video, "--method", method, "--density", "0.3", option, value)));
        Assert.Equal(2, code);
        Assert.Contains(expected, text);
        Assert.False(File.Exists(video));
    }

    [Theory]
    [InlineData("--size", "30x32", "multiple of 16x16")]
    [InlineData("--frames", "6", "4n+1")]
    [InlineData("--size", "32by32", "WIDTHxHEIGHT")]
    public void RefusesSizesAndLengthsTheModelCannotMakeWithoutWritingAFile(string option, string value, string expected)
    {
        string video = Path.Combine(_folder, "bad.mp4");
        var args = Base(video).ToList();
        int at = args.IndexOf(option);
        args[at + 1] = value;
        var (code, text) = StandardError.Capture(() => Invoke([.. args]));
        Assert.Equal(2, code);
        Assert.Contains(expected, text);
        Assert.False(File.Exists(video));
    }

    [Fact]
    public void AFolderWithoutAModelOrTokenizerIsOneClearLine()
    {
        Directory.Delete(Path.Combine(_model, "tokenizer"), recursive: true);
        var (code, text) = StandardError.Capture(() => Invoke(Base(Path.Combine(_folder, "x.mp4"))));
        Assert.Equal(2, code);
        Assert.Contains("tokenizer", text);
        var (wrongCode, wrongText) = StandardError.Capture(() => Invoke(Base(Path.Combine(_folder, "y.mp4")).Select(a => a == _model ? _folder : a).ToArray()));
        Assert.Equal(2, wrongCode);
        Assert.StartsWith("error:", wrongText.Trim());
    }

    [Fact]
    public void StartsFromGivenNoiseAndSavesItsLatentsAndVideo()
    {
        // 5 frames of 32x32 through a VAE of 4x temporal and 8x spatial compression: latents [1, 16, 2, 4, 4].
        var generator = new Generator(17);
        using var given = randn([1, 16, 2, 4, 4], generator: generator);
        string noise = Path.Combine(_folder, "noise.safetensors");
        SafeTensorsWriter.Write(noise, [new("noise", given)]);
        string saved = Path.Combine(_folder, "saved.safetensors"), seeded = Path.Combine(_folder, "seeded.safetensors");
        Assert.Equal(0, Invoke(Base(Path.Combine(_folder, "a.mp4"), "--method", "dense", "--noise", noise, "--save-tensors", saved, "--seed", "5")));
        Assert.Equal(0, Invoke(Base(Path.Combine(_folder, "b.mp4"), "--method", "dense", "--save-tensors", seeded, "--seed", "5")));

        using var file = SafeTensorsFile.Open(saved);
        var tensors = file.ReadAll();
        using var seededFile = SafeTensorsFile.Open(seeded);
        var fromSeed = seededFile.ReadAll();
        try
        {
            Assert.Equal(["noise", "latents.0", "latents.1", "latents", "video"], tensors.Keys);
            Assert.True(tensors["noise"].equal(given).all().item<bool>());
            Assert.True(tensors["latents"].equal(tensors["latents.1"]).all().item<bool>());
            Assert.Equal(new long[] { 1, 3, 5, 32, 32 }, tensors["video"].shape);
            Assert.True(tensors["video"].isfinite().all().item<bool>());
            // The seed's own noise is what the pipeline draws; the given noise changes the result.
            using var drawn = Svg2.Models.Sampling.WanSampler.Noise(16, 2, 4, 4, 5, CPU);
            Assert.True(fromSeed["noise"].equal(drawn).all().item<bool>());
            Assert.False(fromSeed["latents"].allclose(tensors["latents"]));
        }
        finally
        {
            foreach (var tensor in tensors.Values.Concat(fromSeed.Values)) tensor.Dispose();
        }
    }

    [Fact]
    public void NoiseOfAnotherShapeIsOneLineNamingBothShapes()
    {
        using var wrong = zeros([1, 16, 3, 4, 4]);
        string noise = Path.Combine(_folder, "wrong.safetensors");
        SafeTensorsWriter.Write(noise, [new("noise", wrong)]);
        string video = Path.Combine(_folder, "wrong.mp4");
        var (code, text) = StandardError.Capture(() => Invoke(Base(video, "--method", "dense", "--noise", noise)));
        Assert.Equal(2, code);
        Assert.Contains("[1, 16, 3, 4, 4]", text);
        Assert.Contains("[1, 16, 2, 4, 4]", text);
        Assert.Contains("wrong.safetensors", text);
        Assert.False(File.Exists(video));
    }

    [Fact]
    public void RandomWeightsBuildAModelWithoutAFolderAndReportEveryStage()
    {
        string video = Path.Combine(_folder, "random.mp4"), report = Path.Combine(_folder, "random.json"), tensors = Path.Combine(_folder, "random.safetensors");
        Assert.Equal(0, Invoke("--random-weights", "tiny", "--prompt", "a kite", "--size", "32x32", "--frames", "5", "--steps", "2", "--device", "cpu",
            "--method", "dense", "--out", video, "--report", report, "--save-tensors", tensors));
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var run = json.RootElement;
        Assert.Contains("random weights", run.GetProperty("model").GetString());
        Assert.Equal(["text encoding", "denoising", "decoding"], run.GetProperty("report").GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        Assert.All(run.GetProperty("report").GetProperty("steps").EnumerateArray(), s => Assert.Equal(JsonValueKind.Null, s.GetProperty("peakDeviceBytes").ValueKind));
        var phase = Assert.Single(run.GetProperty("report").GetProperty("phases").EnumerateArray());
        Assert.Equal("dense", phase.GetProperty("mode").GetString());
        Assert.Equal([0, 1], phase.GetProperty("steps").EnumerateArray().Select(s => s.GetInt32()));
        using var file = SafeTensorsFile.Open(tensors);
        using var frames = file.Read("video");
        Assert.True(frames.isfinite().all().item<bool>());
        Assert.True(frames.std().item<float>() > 0);

        var (code, text) = StandardError.Capture(() => Invoke("--random-weights", "tiny", "--model-dir", _model, "--device", "cpu", "--out", video));
        Assert.Equal(2, code);
        Assert.Contains("--model-dir", text);
    }

    [Fact]
    public void QualityComparesEverySparseMethodWithTheDenseVideoFromTheSameNoise()
    {
        string outDir = Path.Combine(_folder, "quality");
        int code = new RootCommand { QualityCommand.Create() }.Parse(["quality", "--model-dir", _model, "--prompts", "a kite", "--seeds", "3",
            "--methods", "svg2", "svg2-ear", "blocks", "--densities", "0.3", "1", "--dense-steps", "0.5", "--steps", "2", "--size", "64x64", "--frames", "5",
            "--device", "cpu", "--out-dir", outDir]).Invoke();
        Assert.Equal(0, code);
        var rows = File.ReadAllLines(Path.Combine(outDir, "quality.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(7, rows.Count);
        Assert.Equal("dense", rows[0][2]);
        Assert.True(double.IsPositiveInfinity(double.Parse(rows[0][6], CultureInfo.InvariantCulture)));
        // svg2-ear's routing stops adding blocks where its probe expects compensation to leave no error, so it is not
        // asked to reach full density here.
        foreach (var row in rows.Skip(1).Where(r => !(r[2] == "svg2-ear" && r[3] == "1")))
        {
            double target = double.Parse(row[3], CultureInfo.InvariantCulture), density = double.Parse(row[4], CultureInfo.InvariantCulture);
            Assert.True(density >= 0.5 * target && density <= Math.Min(1, 1.5 * target), $"{row[2]} driven to {target}: density {density}");
        }
        // At full density a sparse method computes every score: its video is the dense one up to rounding.
        var full = rows.Where(r => r[3] == "1" && r[2] != "svg2-ear").ToList();
        Assert.All(full, r => Assert.True(double.Parse(r[6], CultureInfo.InvariantCulture) > 40, $"{r[2]} at density 1: PSNR {r[6]} dB"));
        Assert.True(File.Exists(Path.Combine(outDir, "quality-psnr.png")));

        // --replot rebuilds the CSV and the plots from quality.json alone, and generates nothing.
        string csv = File.ReadAllText(Path.Combine(outDir, "quality.csv"));
        File.Delete(Path.Combine(outDir, "quality.csv"));
        File.Delete(Path.Combine(outDir, "quality-psnr.png"));
        Assert.Equal(0, new RootCommand { QualityCommand.Create() }.Parse(["quality", "--replot", outDir]).Invoke());
        Assert.Equal(csv, File.ReadAllText(Path.Combine(outDir, "quality.csv")));
        Assert.True(File.Exists(Path.Combine(outDir, "quality-psnr.png")));
        var (rejected, message) = StandardError.Capture(() => new RootCommand { QualityCommand.Create() }.Parse(["quality", "--replot", outDir, "--seeds", "4"]).Invoke());
        Assert.NotEqual(0, rejected);
        Assert.Contains("--seeds", message);
        var (missing, missingMessage) = StandardError.Capture(() => new RootCommand { QualityCommand.Create() }.Parse(["quality", "--replot", Path.Combine(_folder, "no-run")]).Invoke());
        Assert.NotEqual(0, missing);
        Assert.Contains("quality.json", missingMessage);
    }

    [Fact]
    public void TheBuiltInModelShipsWithTheBuildAndGeneratesAnMp4OnTheCpu()
    {
        Assert.True(Svg2.Models.Small.BuiltInSmallModel.IsAvailable, $"the built-in model is missing at {Svg2.Models.Small.BuiltInSmallModel.ExpectedPath}");
        _ = FFmpegForTests.Tools;
        string video = Path.Combine(_folder, "builtin.mp4");
        Assert.Equal(0, Invoke("--prompt", "tree.avi", "--steps", "2", "--size", "64x48", "--frames", "9", "--device", "cpu", "--out", video));
        string counted = FFmpegForTests.Run("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames,width,height",
            "-of", "csv=p=0", video).Trim();
        Assert.Equal("64,48,9", counted);
    }

    [Fact]
    public void DumpQkvWritesTheChosenLayersAndStepsForEval()
    {
        string prefix = Path.Combine(_folder, "qkv");
        Assert.Equal(0, Invoke(Base(Path.Combine(_folder, "d.mp4"), "--method", "dense", "--dump-qkv", prefix, "--dump-layers", "1", "--dump-steps", "0", "1")));
        foreach (int step in new[] { 0, 1 })
        {
            var (q, k, v) = Svg2.IO.QkvFile.Read($"{prefix}-layer1-step{step}.safetensors");
            Assert.Equal(new long[] { 1, 2, 2 * 2 * 2, 16 }, q.shape);
            Assert.Equal(q.shape, k.shape);
            Assert.Equal(q.shape, v.shape);
        }
        Assert.False(File.Exists($"{prefix}-layer0-step0.safetensors"));
    }
}
