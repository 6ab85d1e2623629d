using System.Buffers.Binary;
using System.Text;
using Svg2.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.IO;

public sealed class SafeTensorsTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-safetensors-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    string PathOf(string name) => System.IO.Path.Combine(_directory, name);

    static Tensor RandomOf(ScalarType type, long[] shape, Generator generator) => type switch
    {
        ScalarType.Bool => randint(0, 2, shape, generator: generator).to(ScalarType.Bool),
        ScalarType.Byte => randint(0, 256, shape, generator: generator).to(ScalarType.Byte),
        ScalarType.Int8 => randint(-128, 128, shape, generator: generator).to(ScalarType.Int8),
        ScalarType.Int32 or ScalarType.Int64 => randint(-1_000_000, 1_000_000, shape, generator: generator).to(type),
        _ => randn(shape, generator: generator).to(type),
    };

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Int64)]
    [InlineData(ScalarType.Int32)]
    [InlineData(ScalarType.Int8)]
    [InlineData(ScalarType.Byte)]
    [InlineData(ScalarType.Bool)]
    public void RoundTripPreservesEveryDtype(ScalarType type)
    {
        var generator = new Generator(17 + (ulong)type);
        var tensors = new Dictionary<string, Tensor>
        {
            ["a.weight"] = RandomOf(type, [3, 5, 7], generator),
            ["b"] = RandomOf(type, [11], generator),
            ["scalar"] = RandomOf(type, [], generator),
            ["empty"] = RandomOf(type, [0, 4], generator),
        };
        string path = PathOf("round.safetensors");
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(tensors.Keys.OrderBy(k => k), file.Names.OrderBy(k => k));
        foreach (var (name, expected) in tensors)
        {
            using var actual = file.Read(name);
            Assert.Equal(type, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(expected.eq(actual).all().item<bool>(), $"{name} differs after the round trip");
        }
    }

    [Fact]
    public void DataSectionIsAligned()
    {
        string path = PathOf("aligned.safetensors");
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = ones(3) });
        var bytes = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + headerLength) % 8);
        Assert.Equal(8 + headerLength + 12, bytes.Length);
    }

    [Fact]
    public void ReadsTheSharedMiniLmAttentionInputs()
    {
        string path = SharedData.Path("minilm-text-qkv.safetensors");
        Skip.IfNot(File.Exists(path), "shared data file absent");
        using var file = SafeTensorsFile.Open(path);
        foreach (var name in new[] { "q", "k", "v" })
        {
            var info = file.Info(name);
            Assert.Equal("F32", info.DType);
            Assert.Equal(new long[] { 1, 72, 511, 32 }, info.Shape);
            using var tensor = file.Read(name);
            Assert.Equal(new long[] { 1, 72, 511, 32 }, tensor.shape);
            Assert.True(tensor.isfinite().all().item<bool>());
            // Projection outputs of a trained model are neither all zero nor constant.
            Assert.True(tensor.std().item<float>() > 1e-3f);
        }
    }

    static byte[] FileWithHeader(string header, int dataBytes)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }

    void AssertRejected(byte[] content, string expectedFragment)
    {
        string path = PathOf("bad.safetensors");
        File.WriteAllBytes(path, content);
        var error = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(expectedFragment, error.Message);
    }

    [Fact]
    public void RejectsAFileShorterThanTheLengthField() => AssertRejected([1, 2, 3], "truncated");

    [Fact]
    public void RejectsAHeaderLongerThanTheFile()
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, 1000);
        AssertRejected(bytes, "truncated");
    }

    [Fact]
    public void RejectsAHeaderThatIsNotJson() => AssertRejected(FileWithHeader("{not json", 0), "not valid JSON");

    [Fact]
    public void RejectsAnUnknownDtype() =>
        AssertRejected(FileWithHeader("""{"x":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}""", 2), "unknown or unsupported dtype 'F8_E4M3'");

    [Fact]
    public void RejectsOffsetsBeyondTheData() =>
        AssertRejected(FileWithHeader("""{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8), "outside the 8 data bytes");

    [Fact]
    public void RejectsOffsetsThatDisagreeWithTheShape() =>
        AssertRejected(FileWithHeader("""{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8), "do not match F32 [3]");

    [Fact]
    public void RejectsATruncatedDataSection()
    {
        string path = PathOf("full.safetensors");
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = randn(64) });
        var bytes = File.ReadAllBytes(path);
        AssertRejected(bytes[..^10], "outside");
    }

    [Fact]
    public void NamesAMissingTensor()
    {
        string path = PathOf("one.safetensors");
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = randn(4) });
        using var file = SafeTensorsFile.Open(path);
        var error = Assert.Throws<SafeTensorsFormatException>(() => file.Read("y"));
        Assert.Contains("'y'", error.Message);
    }

    [Fact]
    public void RejectsADuplicateTensorName() =>
        AssertRejected(FileWithHeader("""{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"x":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}""", 4),
            "tensor 'x' appears twice");

    [Fact]
    public void RejectsADuplicateMetadataKey() =>
        AssertRejected(FileWithHeader("""{"__metadata__":{"a":"1","a":"2"},"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}""", 2), "key 'a' appears twice");

    [Fact]
    public void RejectsADuplicateFieldInAnEntry() =>
        AssertRejected(FileWithHeader("""{"x":{"dtype":"U8","dtype":"F32","shape":[2],"data_offsets":[0,2]}}""", 2), "'dtype' appears twice");

    [Fact]
    public void RejectsOverlappingRangesNamingBoth()
    {
        string path = PathOf("bad.safetensors");
        File.WriteAllBytes(path, FileWithHeader("""{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}""", 6));
        var error = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains("'a' [0, 4)", error.Message);
        Assert.Contains("'b' [2, 6)", error.Message);
        Assert.Contains("overlap", error.Message);
    }

    [Fact]
    public void RejectsAHoleBetweenRanges() =>
        AssertRejected(FileWithHeader("""{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}""", 6), "2 unused bytes between");

    [Fact]
    public void RejectsAHoleBeforeTheFirstRange() =>
        AssertRejected(FileWithHeader("""{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}""", 4), "before the first tensor 'a'");

    [Fact]
    public void RejectsTrailingDataBytes() =>
        AssertRejected(FileWithHeader("""{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}""", 5), "3 bytes follow the last tensor 'a'");

    [Fact]
    public void AcceptsZeroLengthTensorsAnywhereInTheData()
    {
        string path = PathOf("empty.safetensors");
        File.WriteAllBytes(path, FileWithHeader("""{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[0,3],"data_offsets":[2,2]}}""", 4));
        using var file = SafeTensorsFile.Open(path);
        using var z = file.Read("z");
        Assert.Equal(new long[] { 0, 3 }, z.shape);
    }

    [Theory]
    [InlineData("[4611686018427387904,4]")]
    [InlineData("[9223372036854775807,9223372036854775807]")]
    [InlineData("[3037000500,3037000500]")]
    public void RejectsAShapeWhoseByteCountOverflows(string shape) =>
        AssertRejected(FileWithHeader($$$"""{"x":{"dtype":"F64","shape":{{{shape}}},"data_offsets":[0,8]}}""", 8), "more bytes than a 64-bit count");

    [Fact]
    public void RejectsAShapeLargerThanTheFileBeforeAllocating() =>
        AssertRejected(FileWithHeader("""{"x":{"dtype":"F32","shape":[1000000000,1000],"data_offsets":[0,8]}}""", 8), "do not match F32 [1000000000, 1000]");

    [Theory]
    [InlineData("[0,-8]", "two non-negative integers")]
    [InlineData("[-8,0]", "two non-negative integers")]
    [InlineData("[0,8.0]", "two non-negative integers")]
    [InlineData("[0,8e0]", "two non-negative integers")]
    [InlineData("[0,\"8\"]", "two non-negative integers")]
    [InlineData("[0,null]", "two non-negative integers")]
    [InlineData("[0,18446744073709551616]", "two non-negative integers")]
    [InlineData("[0]", "two non-negative integers")]
    [InlineData("{\"a\":0}", "two non-negative integers")]
    [InlineData("[0,NaN]", "not valid JSON")]
    [InlineData("[8,0]", "not an ordered range")]
    public void RejectsMalformedOffsets(string offsets, string expected) =>
        AssertRejected(FileWithHeader($$$"""{"x":{"dtype":"U8","shape":[8],"data_offsets":{{{offsets}}}}}""", 8), expected);

    [Theory]
    [InlineData("[-1]", "shape entry 0")]
    [InlineData("[2.5]", "shape entry 0")]
    [InlineData("[8,\"1\"]", "shape entry 1")]
    [InlineData("8", "missing array 'shape'")]
    public void RejectsMalformedShapes(string shape, string expected) =>
        AssertRejected(FileWithHeader($$$"""{"x":{"dtype":"U8","shape":{{{shape}}},"data_offsets":[0,8]}}""", 8), expected);

    [Fact]
    public void RejectsAHeaderThatIsNotUtf8()
    {
        var bytes = FileWithHeader("""{"xy":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", 1);
        bytes[8 + 3] = 0xC3; // "y" becomes a lead byte followed by a quote, which cannot continue it
        AssertRejected(bytes, "not valid UTF-8 (byte 3");
    }

    [Fact]
    public void RejectsAHeaderLengthThatCutsACharacterInTwo()
    {
        // The name holds "é" (C3 A9); the length stops after its first byte.
        var bytes = FileWithHeader("""{"é":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", 1);
        BinaryPrimitives.WriteInt64LittleEndian(bytes, 3);
        AssertRejected(bytes, "not valid UTF-8");
    }

    [Fact]
    public void RejectsDeeplyNestedJson() =>
        AssertRejected(FileWithHeader("{\"x\":" + new string('[', 10_000) + new string(']', 10_000) + "}", 0), "not valid JSON");

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    public void RejectsAnInvalidHeaderLength(long length)
    {
        var bytes = FileWithHeader("""{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", 1);
        BinaryPrimitives.WriteInt64LittleEndian(bytes, length);
        AssertRejected(bytes, "invalid header length");
    }

    [Fact]
    public void WriterRejectsDuplicateNames()
    {
        var tensors = new[] { new KeyValuePair<string, Tensor>("x", ones(1)), new KeyValuePair<string, Tensor>("x", ones(1)) };
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(PathOf("dup.safetensors"), tensors));
    }
}
