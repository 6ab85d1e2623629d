using Svg2.Models.Clip;
using Svg2.Tests.Models;
using static TorchSharp.torch;

namespace Svg2.Tests.Clip;

public class ClipImageEncoderTests
{
    static Tensor Normalised(Tensor image)
    {
        var mean = tensor(ClipImagePreprocessing.Mean, ScalarType.Float32).view(1, 3, 1, 1);
        var std = tensor(ClipImagePreprocessing.Std, ScalarType.Float32).view(1, 3, 1, 1);
        return (image * 0.5 + 0.5 - mean) / std;
    }

    [Fact]
    public void AnImageOfTheInputSizePassesUnresizedAndIsNormalisedWithClipsMeanAndStd()
    {
        using var image = rand([1, 3, 28, 28], generator: new Generator(21)) * 2 - 1;
        using var pixels = ClipImagePreprocessing.Apply(image, 28, CPU);
        using var expected = Normalised(image);
        Assert.True(pixels.allclose(expected, rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void ResizingSquashesTheWholeImageBicubicallyWithoutCropping()
    {
        // A horizontal ramp keeps a ramp across the whole width after the (aspect-changing) resize: no crop.
        using var ramp = linspace(-1, 1, 60).view(1, 1, 1, 60).expand(1, 3, 40, 60).contiguous();
        using var pixels = ClipImagePreprocessing.Apply(ramp, 28, CPU);
        using var expected = Normalised(nn.functional.interpolate(ramp, [28, 28], mode: InterpolationMode.Bicubic, align_corners: false));
        Assert.True(pixels.allclose(expected, rtol: 0, atol: 1e-6));
        using var row = pixels[0, 0, 5];
        using var ends = Normalised(ramp)[0, 0, 5];
        Assert.InRange(row[0].item<float>(), ends[0].item<float>() - 0.1f, ends[0].item<float>() + 0.25f);
        Assert.InRange(row[27].item<float>(), ends[59].item<float>() - 0.25f, ends[59].item<float>() + 0.1f);
        // Bicubic, not bilinear: the two differ on a curved image.
        using var curve = (linspace(-1, 1, 60).pow(3)).view(1, 1, 1, 60).expand(1, 3, 40, 60).contiguous();
        using var bilinear = Normalised(nn.functional.interpolate(curve, [28, 28], mode: InterpolationMode.Bilinear, align_corners: false));
        using var ours = ClipImagePreprocessing.Apply(curve, 28, CPU);
        Assert.True((ours - bilinear).abs().max().item<float>() > 1e-4f);
    }

    [Fact]
    public void EncodeGivesFloat32FeaturesOnTheCpuAndReleaseFreesTheWeights()
    {
        var config = TinyClip.Config;
        var weights = TinyClip.OfficialWeights(config, 22);
        using var image = rand([3, 50, 70], generator: new Generator(23)) * 2 - 1;
        using var encoder = ClipImageEncoder.Load(new MemoryTensorSource(weights), config, CPU, ScalarType.Float32);
        Assert.Equal(config.Dim, encoder.FeatureDim);
        using var features = encoder.Encode(image);
        using var pixels = ClipImagePreprocessing.Apply(image.unsqueeze(0), config.ImageSize, CPU);
        using var expected = TinyClip.Reference64(weights, config, pixels);
        Assert.Equal(new long[] { 1, config.Tokens, config.Dim }, features.shape);
        Assert.Equal(ScalarType.Float32, features.dtype);
        Assert.InRange(TinyWan.RelativeError(features, expected), 0, 1e-5);
        encoder.Release();
        Assert.True(encoder.IsReleased);
        Assert.Throws<ObjectDisposedException>(() => encoder.Encode(image));
    }
}
