using System.Text;
using System.Text.Json;
using Svg2.IO;
using Svg2.Models.Checkpoints;
using static TorchSharp.torch;

namespace Svg2.Tests.Checkpoints;

public sealed class PthTensorSourceTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-pth-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    static string Data(string file) => SharedData.Path(Path.Combine("pth", file));

    string Write(string name, byte[] content)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>Every tensor of the .pth file equals, bit for bit, the contiguous copy in the safetensors file.</summary>
    internal static void AssertSameTensors(PthTensorSource source, string safetensorsPath)
    {
        using var expected = SafeTensorsFile.Open(safetensorsPath);
        Assert.Equal(expected.Names.OrderBy(n => n, StringComparer.Ordinal), source.Names.OrderBy(n => n, StringComparer.Ordinal));
        foreach (var name in expected.Names)
        {
            var info = expected.Info(name);
            var entry = source.Describe(name);
            Assert.Equal(info.Type, entry.Type);
            Assert.Equal(info.Shape, entry.Shape);
            using var want = expected.Read(name);
            using var got = source.Read(name);
            Assert.Equal(info.Type, got.dtype);
            Assert.Equal(info.Shape, got.shape);
            Assert.True(got.is_contiguous(), $"{name} is not contiguous");
            Assert.True(want.eq(got).all().item<bool>(), $"{name} differs");
        }
    }

    [Fact]
    public void ReadsAStateDictWrittenByTorchSave()
    {
        using var source = PthTensorSource.Open(Data("state_dict.pth"));
        AssertSameTensors(source, Data("state_dict.safetensors"));
        // The file really holds views: torch.save kept their offsets and strides (state_dict.json records them).
        using var layout = JsonDocument.Parse(File.ReadAllText(Data("state_dict.json")));
        var views = layout.RootElement;
        Assert.Equal(20, views.GetProperty("view_rows").GetProperty("offset").GetInt32());
        Assert.Equal([1, 10], views.GetProperty("transposed").GetProperty("stride").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal([0, 1], views.GetProperty("expanded").GetProperty("stride").EnumerateArray().Select(e => e.GetInt32()));
        foreach (var tensor in views.EnumerateObject())
            Assert.Equal(tensor.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()), source.Describe(tensor.Name).Shape);
    }

    [Fact]
    public void ReadsNestedDictsWrittenByTorchSave()
    {
        using var all = PthTensorSource.Open(Data("nested.pth"));
        Assert.Equal(["model.encoder.weight", "model.encoder.bias"], all.Names);
        using var model = PthTensorSource.Open(Data("nested.pth"), root: "model");
        using var expected = SafeTensorsFile.Open(Data("state_dict.safetensors"));
        using var weight = model.Read("encoder.weight");
        using var bias = model.Read("encoder.bias");
        using var f32 = expected.Read("f32");
        using var i32 = expected.Read("i32");
        Assert.True(weight.eq(f32).all().item<bool>());
        Assert.True(bias.eq(i32).all().item<bool>());
    }

    [Fact]
    public void RefusesTheExploitWrittenByPython()
    {
        var error = Assert.Throws<CheckpointException>(() => PthTensorSource.Open(Data("exploit.pth")));
        Assert.Contains("'posix.system'", error.Message);
        Assert.Contains("nothing was run", error.Message);
    }

    [Fact]
    public void RefusesTheLegacyFileWrittenByTorchSave()
    {
        var error = Assert.Throws<CheckpointException>(() => PthTensorSource.Open(Data("legacy.pth")));
        Assert.Contains("legacy (pre-1.6) serialization format", error.Message);
        Assert.Contains("re-save it in the zip format", error.Message);
    }

    [Fact]
    public void ReadsEveryTypeAndViewOfAStateDict()
    {
        using var source = PthTensorSource.Open(Data("synthetic.pth"));
        AssertSameTensors(source, Data("synthetic.safetensors"));
        // Names keep the pickle's order.
        Assert.Equal(["full", "rows", "transposed"], source.Names.Take(3));
        using var scalar = source.Read("scalar");
        Assert.Equal(0, scalar.dim());
        Assert.Equal(2.5f, scalar.item<float>());
        using var large = source.Read("i64");
        Assert.Equal(1L << 40, large[2].item<long>());
    }

    [Fact]
    public void JoinsNestedKeysWithDotsAndSkipsOtherValues()
    {
        using var all = PthTensorSource.Open(Data("synthetic_nested.pth"));
        Assert.Contains("model.full", all.Names);
        Assert.Contains("model.parameter", all.Names);
        Assert.Contains("by_index.3", all.Names);
        Assert.DoesNotContain(all.Names, n => n.StartsWith("step") || n.StartsWith("flags") || n.StartsWith("pair") || n.StartsWith("blob"));
        Assert.Equal(19, all.Names.Count);

        using var model = PthTensorSource.Open(Data("synthetic_nested.pth"), root: "model");
        AssertSameTensors(model, Data("synthetic.safetensors"));

        var error = Assert.Throws<CheckpointException>(() => PthTensorSource.Open(Data("synthetic_nested.pth"), root: "state_dict"));
        Assert.Contains("no tensor under 'state_dict'", error.Message);
        Assert.Contains("'model'", error.Message);
    }

    [Theory]
    [InlineData("hostile_system.pth", "posix.system")]
    [InlineData("hostile_eval.pth", "builtins.eval")]
    [InlineData("hostile_getcwd.pth", "posix.getcwd")]
    [InlineData("hostile_storage.pth", "posix.system")]
    public void RefusesPicklesThatNameOtherGlobals(string file, string global)
    {
        var error = Assert.Throws<CheckpointException>(() => PthTensorSource.Open(Data(file)));
        Assert.Contains($"'{global}'", error.Message);
        Assert.Contains("refused", error.Message);
        Assert.Contains(file, error.Message);
    }

    [Fact]
    public void RefusesTheLegacyFormatWithAResaveHint()
    {
        // The legacy format starts with the pickled magic number 0x1950a86a20f9469cfc6c (protocol 2, LONG1).
        byte[] legacy = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
        var error = Assert.Throws<CheckpointException>(() => PthTensorSource.Open(Write("legacy.pth", legacy)));
        Assert.Contains("legacy", error.Message);
        Assert.Contains("torch.save", error.Message);
    }

    [Fact]
    public void RefusesFilesThatAreNotZipArchives()
    {
        var error = Assert.Throws<CheckpointException>(() => PthTensorSource.Open(Write("text.pth", Encoding.UTF8.GetBytes("hello"))));
        Assert.Contains("not a PyTorch zip archive", error.Message);
        Assert.Throws<FileNotFoundException>(() => PthTensorSource.Open(Path.Combine(_directory, "absent.pth")));
    }

    [Fact]
    public void RefusesATruncatedFile()
    {
        var valid = File.ReadAllBytes(Data("synthetic.pth"));
        string path = Write("truncated.pth", valid[..(valid.Length / 2)]);
        var error = Assert.Throws<CheckpointException>(() => PthTensorSource.Open(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void NamesAMissingOrMisSizedStorage()
    {
        var valid = File.ReadAllBytes(Data("synthetic.pth"));
        var missing = Write("missing.pth", PthArchives.Replace(valid, "/data/3", _ => null));
        var error = Assert.Throws<CheckpointException>(() => PthTensorSource.Open(missing));
        Assert.Contains("storage '3'", error.Message);
        Assert.Contains("synthetic/data/3", error.Message);

        var shorter = Write("shorter.pth", PthArchives.Replace(valid, "/data/3", content => content[..^8]));
        error = Assert.Throws<CheckpointException>(() => PthTensorSource.Open(shorter));
        Assert.Contains("holds 16 bytes", error.Message);
        Assert.Contains("3 elements of Float64 (24 bytes)", error.Message);
    }

    [Fact]
    public void RefusesCompressedStorages()
    {
        var valid = File.ReadAllBytes(Data("synthetic.pth"));
        var entries = PthArchives.Entries(valid);
        var path = Write("compressed.pth", PthArchives.Build(entries, new HashSet<string> { "synthetic/data/0" }));
        var error = Assert.Throws<CheckpointException>(() => PthTensorSource.Open(path));
        Assert.Contains("compressed", error.Message);
    }

    [Fact]
    public void DescribesWithoutReadingAndReportsUnreadableData()
    {
        // Break the local header of one storage entry: the central directory, which opening reads, stays valid.
        var content = File.ReadAllBytes(Data("synthetic.pth"));
        var name = Encoding.ASCII.GetBytes("synthetic/data/3");
        int at = content.AsSpan().IndexOf(name);
        while (at >= 0 && !(content[at - 30] == 'P' && content[at - 29] == 'K' && content[at - 28] == 3))
            at = content.AsSpan(at + 1).IndexOf(name) is var next and >= 0 ? at + 1 + next : -1;
        Assert.True(at >= 30, "local header of synthetic/data/3 not found");
        content[at - 30] = (byte)'X';
        string path = Write("broken-local-header.pth", content);

        using var source = PthTensorSource.Open(path);
        var entry = source.Describe("f64");
        Assert.Equal(ScalarType.Float64, entry.Type);
        Assert.Equal([3L], entry.Shape);
        using (var fine = source.Read("full")) Assert.Equal([6L, 10L], fine.shape);
        var error = Assert.Throws<CheckpointException>(() => source.Read("f64"));
        Assert.Contains("'f64'", error.Message);
        Assert.Contains(path, error.Message);
        Assert.Throws<CheckpointException>(() => source.Describe("absent"));
    }
}
