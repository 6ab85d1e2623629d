using Svg2.Evaluation.Verification;
using static TorchSharp.torch;

namespace Svg2.Tests.Conformance;

public class ReferenceComputationsTests
{
    static double WholeTensorError(Tensor actual, Tensor expected)
    {
        var a = actual.to(ScalarType.Float64);
        var b = expected.to(ScalarType.Float64);
        return (a - b).norm().item<double>() / b.norm().item<double>();
    }

    [Fact]
    public void RelativeErrorOverHeadsEqualsTheWholeTensorsError()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(11);
        var expected = randn([5, 37, 16], generator: generator);
        var actual = (expected + 0.01 * randn([5, 37, 16], generator: generator)).to(ScalarType.BFloat16);
        double error = ReferenceComputations.RelativeError(actual, expected);
        Assert.InRange(error, 1e-3, 1e-1);
        Assert.Equal(WholeTensorError(actual, expected), error, 1e-12);
    }

    [Fact]
    public void RelativeErrorBroadcastsTensorsOfDifferentShapes()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(12);
        var expected = randn([4, 8], generator: generator);
        var actual = randn([8], generator: generator);
        Assert.Equal(WholeTensorError(actual, expected), ReferenceComputations.RelativeError(actual, expected), 1e-12);
    }

    [Fact]
    public void RelativeErrorOfEqualTensorsIsZero()
    {
        using var scope = NewDisposeScope();
        var expected = arange(24, ScalarType.Float32).view(2, 3, 4);
        Assert.Equal(0.0, ReferenceComputations.RelativeError(expected.clone(), expected));
    }
}
