using System.CommandLine;
using System.Text.Json;
using Svg2.Cli.Commands;
using Svg2.IO;
using static TorchSharp.torch;

namespace Svg2.Tests.Cli;

// Tests here redirect the process-wide console: one collection keeps them from running at the same time.
[Collection(ConsoleCollection.Name)]
public sealed class CommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("svg2-cli-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static int Invoke(Command command, params string[] args)
    {
        var root = new RootCommand { command };
        return root.Parse([command.Name, .. args]).Invoke();
    }

    string WriteQkv(int seed, long[] shape, ScalarType dtype = ScalarType.Float32)
    {
        string path = Path.Combine(folder, $"qkv{seed}.safetensors");
        SafeTensorsWriter.Write(path, [new("q", TestTensors.Normal(seed, shape, dtype)), new("k", TestTensors.Normal(seed + 1, shape, dtype)), new("v", TestTensors.Normal(seed + 2, shape, dtype))]);
        return path;
    }

    [Fact]
    public void EvalWritesTheOutputTensorAndAPerHeadReport()
    {
        string input = WriteQkv(1, [2, 3, 96, 16], ScalarType.BFloat16);
        string output = Path.Combine(folder, "out.safetensors"), report = Path.Combine(folder, "report.json");
        Assert.Equal(0, Invoke(EvalCommand.Create(), "--qkv", input, "--density", "0.3", "--out", output, "--json", report));

        using var file = SafeTensorsFile.Open(output);
        var result = file.Read("out");
        Assert.Equal(new long[] { 2, 3, 96, 16 }, result.shape);
        Assert.Equal(ScalarType.BFloat16, result.dtype);
        Assert.False(result.isnan().any().item<bool>());

        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var method = json.RootElement.GetProperty("methods")[0];
        Assert.Equal("svg2", method.GetProperty("method").GetString());
        Assert.Equal(6, method.GetProperty("density").GetArrayLength());
        Assert.InRange(method.GetProperty("density").EnumerateArray().Average(d => d.GetDouble()), 0.297, 0.303);
        Assert.Equal(6, method.GetProperty("relativeError").GetArrayLength());
        Assert.True(json.RootElement.GetProperty("configuration").GetProperty("topP").GetDouble() > 0);
    }

    [Fact]
    public void EvalRunsSvg2EarAtADensityAndReportsTheFloorsShare()
    {
        string report = Path.Combine(folder, "ear.json");
        Assert.Equal(0, Invoke(EvalCommand.Create(), "--qkv", WriteQkv(3, [1, 3, 96, 16]), "--method", "svg2-ear", "--density", "0.3", "--json", report));
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var method = json.RootElement.GetProperty("methods")[0];
        Assert.Equal("svg2-ear", method.GetProperty("method").GetString());
        Assert.InRange(method.GetProperty("density").EnumerateArray().Average(d => d.GetDouble()), 0.29, 0.31);
        Assert.Equal(3, method.GetProperty("floorShare").GetArrayLength());
        Assert.All(method.GetProperty("floorShare").EnumerateArray(), share => Assert.InRange(share.GetDouble(), 0, 1));
    }

    [Theory]
    [InlineData("blocks", "--density 0.5")]
    [InlineData("blocks-64", "--density 0.5")]
    [InlineData("svg2-ear", "--error-threshold 0.5")]
    [InlineData("svg2-ear", "--compensation per-cluster --top-p 0.7")]
    [InlineData("svg2-ear", "--routing top-p --top-p 0.7")]
    [InlineData("svg2-ear", "--density 0.3 --compensation-tail 0")]
    [InlineData("svg2-ear", "--density 0.3 --compensation-tail 0.01")]
    [InlineData("window", "--density 0.5 --grid 4x4x4")]
    [InlineData("oracle", "--density 0.5")]
    [InlineData("dense", "")]
    [InlineData("svg2", "--density 0.5 --kmeans-precision fp8")]
    public void EvalRunsEveryBaseline(string method, string budget) =>
        Assert.Equal(0, Invoke(EvalCommand.Create(), ["--qkv", WriteQkv(5, [1, 2, 64, 8]), "--method", method,
            .. budget.Split(' ', StringSplitOptions.RemoveEmptyEntries)]));

    [Theory]
    [InlineData("svg2", "--density 0.5 --top-p 0.8", "--top-p")]
    [InlineData("svg2", "--parameter 0.5", "--parameter")]
    [InlineData("svg2", "--grid 4x4x4", "--grid")]
    [InlineData("blocks", "--density 0.5 --qc 10", "--qc")]
    [InlineData("oracle", "--density 0.5 --min-kc-ratio 0.2", "--min-kc-ratio")]
    [InlineData("window", "--parameter 0.5 --text 8 4", "--text")]
    [InlineData("dense", "--density 0.5", "--density")]
    [InlineData("svg2", "--compensation per-row", "--compensation")]
    [InlineData("svg2-ear", "--top-p 0.8", "--top-p")]
    [InlineData("svg2-ear", "--routing top-p --error-threshold 2", "--error-threshold")]
    [InlineData("svg2-ear", "--density 0.5 --error-threshold 2", "--error-threshold")]
    [InlineData("blocks", "--density 0.5 --routing error", "--routing")]
    [InlineData("blocks", "--density 0.5 --kmeans-precision fp8", "--kmeans-precision")]
    public void EvalRejectsOptionsTheMethodWouldIgnore(string method, string arguments, string named)
    {
        var (code, error) = StandardError.Capture(() => Invoke(EvalCommand.Create(), ["--qkv", WriteQkv(5, [1, 2, 64, 8]), "--method", method, .. arguments.Split(' ')]));
        Assert.Equal(2, code);
        Assert.Contains($"does not use {named}", error);
    }

    [Fact]
    public void EvalRefusesErrorRoutingForPerClusterCompensation()
    {
        var (code, error) = StandardError.Capture(() => Invoke(EvalCommand.Create(), "--qkv", WriteQkv(5, [1, 2, 64, 8]), "--method", "svg2-ear",
            "--compensation", "per-cluster", "--routing", "error"));
        Assert.Equal(2, code);
        Assert.Contains("cannot route for PerQueryCluster compensation", error);
    }

    [Theory]
    [InlineData("--compensation per-cluster --compensation-tail 0.001", "per-cluster compensation already folds")]
    [InlineData("--compensation-tail 1.5", "CompensationTailMass must lie in [0, 1)")]
    public void EvalRefusesACompensationTailItCannotUse(string arguments, string message)
    {
        var (code, error) = StandardError.Capture(() => Invoke(EvalCommand.Create(), ["--qkv", WriteQkv(5, [1, 2, 64, 8]), "--method", "svg2-ear",
            .. arguments.Split(' ')]));
        Assert.Equal(2, code);
        Assert.Contains(message, error);
    }

    [Fact]
    public void EvalNamesAMissingTensor()
    {
        string path = Path.Combine(folder, "only-q.safetensors");
        SafeTensorsWriter.Write(path, [new("q", zeros(1, 1, 8, 4))]);
        var (code, error) = StandardError.Capture(() => Invoke(EvalCommand.Create(), "--qkv", path));
        Assert.Equal(2, code);
        Assert.Contains("no tensor 'k'", error);
    }

    [Fact]
    public void EvalRejectsAGridOfTheWrongSize() =>
        Assert.Equal(2, Invoke(EvalCommand.Create(), "--qkv", WriteQkv(7, [1, 1, 64, 8]), "--method", "window", "--grid", "2x2x2"));

    [Fact]
    public void BenchRunsOnTheTinyWorkload() =>
        Assert.Equal(0, Invoke(BenchCommand.Create(), "--shape", "tiny", "--methods", "svg2,blocks,dense", "--json", Path.Combine(folder, "bench.json")));

    [Fact]
    public void BenchComparesSvg2EarOnTheHardWorkload() =>
        Assert.Equal(0, Invoke(BenchCommand.Create(), "--shape", "tiny", "--workload", "video-hard", "--methods", "svg2,svg2-ear,blocks,blocks-64"));

    [Fact]
    public void SweepWritesTheFloorsShareForMethodsWithAMinimum()
    {
        string outDir = Path.Combine(folder, "ear-sweep");
        Assert.Equal(0, Invoke(SweepCommand.Create(), "--shape", "tiny", "--densities", "0.3", "--methods", "svg2-ear,oracle", "--out-dir", outDir));
        var lines = File.ReadAllLines(Path.Combine(outDir, "sweep.csv"));
        Assert.Contains("floor_share", lines[0]);
        var floor = Array.IndexOf(lines[0].Split(','), "floor_share");
        Assert.NotEqual("", lines.Single(l => l.Contains(",svg2-ear,")).Split(',')[floor]);
        Assert.Equal("", lines.Single(l => l.Contains(",oracle,")).Split(',')[floor]);
    }

    [Fact]
    public void SweepWritesCsvAndPlots()
    {
        string outDir = Path.Combine(folder, "sweep");
        Assert.Equal(0, Invoke(SweepCommand.Create(), "--shape", "tiny", "--densities", "0.3,0.6", "--methods", "svg2,blocks", "--out-dir", outDir));
        var lines = File.ReadAllLines(Path.Combine(outDir, "sweep.csv"));
        Assert.Equal(1 + 2 * 2, lines.Length);
        Assert.All(new[] { "sweep-error.png", "sweep-recall.png" }, png =>
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(Path.Combine(outDir, png)).Take(4)));
    }

    [Fact]
    public void BaselinesWithoutSvg2NeedADensity()
    {
        Assert.Equal(2, Invoke(BenchCommand.Create(), "--shape", "tiny", "--methods", "blocks,window"));
        Assert.Equal(0, Invoke(BenchCommand.Create(), "--shape", "tiny", "--methods", "blocks,window", "--density", "0.4"));
    }

    [Fact]
    public void UnknownMethodIsAnError() =>
        Assert.Equal(2, Invoke(BenchCommand.Create(), "--shape", "tiny", "--methods", "svg3"));

    [Theory]
    [InlineData("--device cuda --qc 10", "--qc")]
    [InlineData("--device cuda --methods svg2 --top-p 0.5", "--methods, --top-p")]
    [InlineData("--device cuda --dtype f16", "--dtype")]
    [InlineData("--iterations 3", "--iterations")]
    [InlineData("--compare", "--compare")]
    public void BenchRejectsOptionsItWouldIgnore(string arguments, string named)
    {
        var (code, error) = StandardError.Capture(() => Invoke(BenchCommand.Create(), ["--shape", "tiny", .. arguments.Split(' ')]));
        Assert.Equal(2, code);
        Assert.Contains($"does not use {named}", error);
    }

    [Fact]
    public void TheCudaStageTimingTakesTheWarmIterationCount()
    {
        var (code, error) = StandardError.Capture(() => Invoke(BenchCommand.Create(), ["--shape", "tiny", "--device", "cuda", "--step-iters", "1", "--qc", "10"]));
        Assert.Equal(2, code);
        Assert.Contains("does not use --qc", error);
        Assert.DoesNotContain("--step-iters", error.Replace("--iterations, --densities and --step-iters", ""));
    }

    [Theory]
    [InlineData("--top-p 0.8", "--top-p")]
    [InlineData("--grid 4x4x4", "--grid")]
    [InlineData("--methods blocks,window --qc 10", "--qc")]
    [InlineData("--methods window,oracle --min-kc-ratio 0.2", "--min-kc-ratio")]
    public void SweepRejectsOptionsItWouldIgnore(string arguments, string named)
    {
        var (code, error) = StandardError.Capture(() => Invoke(SweepCommand.Create(), ["--shape", "tiny", "--densities", "0.3", "--out-dir", Path.Combine(folder, "sweep"), .. arguments.Split(' ')]));
        Assert.Equal(2, code);
        Assert.Contains($"does not use {named}", error);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void EvalRefusesNonFiniteInputsNamingWhere(float value)
    {
        var generator = new Generator(9);
        var q = randn([1, 2, 64, 8], generator: generator);
        q[0, 1, 37, 5] = tensor(value);
        string path = Path.Combine(folder, "nonfinite.safetensors");
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["q"] = q, ["k"] = randn([1, 2, 64, 8], generator: generator), ["v"] = randn([1, 2, 64, 8], generator: generator) });
        var (code, error) = StandardError.Capture(() => Invoke(EvalCommand.Create(), "--qkv", path));
        Assert.Equal(2, code);
        Assert.Contains("Tensor 'q'", error);
        Assert.Contains("head 1, row 37, column 5", error);
    }
}
