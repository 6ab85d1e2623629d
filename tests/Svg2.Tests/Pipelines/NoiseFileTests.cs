using Svg2.IO;
using Svg2.Models.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Tests.Pipelines;

public sealed class NoiseFileTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("svg2-noise-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    string Write(params (string Name, Tensor Tensor)[] tensors)
    {
        string path = Path.Combine(_folder, $"n{Guid.NewGuid():N}.safetensors");
        SafeTensorsWriter.Write(path, tensors.Select(t => new KeyValuePair<string, Tensor>(t.Name, t.Tensor)));
        return path;
    }

    [Fact]
    public void ReadsTheOnlyTensorWithoutItsBatchDimensionAsFloat32()
    {
        using var stored = randn([16, 2, 4, 6], generator: new Generator(3)).to(ScalarType.BFloat16);
        using var noise = NoiseFile.Read(Write(("x", stored)), [1, 16, 2, 4, 6]);
        Assert.Equal(ScalarType.Float32, noise.dtype);
        Assert.Equal(new long[] { 1, 16, 2, 4, 6 }, noise.shape);
        Assert.True(noise[0].equal(stored.to(ScalarType.Float32)).all().item<bool>());
    }

    [Fact]
    public void PrefersTheTensorNamedNoise()
    {
        using var other = zeros([1, 16, 1, 2, 2]);
        using var wanted = ones([1, 16, 1, 2, 2]);
        using var noise = NoiseFile.Read(Write(("other", other), ("noise", wanted)), [1, 16, 1, 2, 2]);
        Assert.Equal(1f, noise.mean().item<float>());
    }

    [Fact]
    public void IntegerTensorsManyUnnamedTensorsAndOtherShapesAreClearErrors()
    {
        using var integers = zeros([1, 16, 1, 2, 2], ScalarType.Int64);
        var dtype = Assert.Throws<ArgumentException>(() => NoiseFile.Read(Write(("noise", integers)), [1, 16, 1, 2, 2]));
        Assert.Contains("I64", dtype.Message);

        using var a = zeros([1, 16, 1, 2, 2]);
        using var b = zeros([1, 16, 1, 2, 2]);
        var unnamed = Assert.Throws<ArgumentException>(() => NoiseFile.Read(Write(("a", a), ("b", b)), [1, 16, 1, 2, 2]));
        Assert.Contains("'noise'", unnamed.Message);

        var shape = Assert.Throws<ArgumentException>(() => NoiseFile.Read(Write(("noise", a)), [1, 16, 2, 2, 2]));
        Assert.Contains("[1, 16, 1, 2, 2]", shape.Message);
        Assert.Contains("[1, 16, 2, 2, 2]", shape.Message);
        Assert.Throws<FileNotFoundException>(() => NoiseFile.Read(Path.Combine(_folder, "missing.safetensors"), [1, 16, 1, 2, 2]));
    }
}
