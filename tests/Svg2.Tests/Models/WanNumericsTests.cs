using Svg2.Models.Attention;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Tests.Models;

/// <summary>The two numerics modes: the same model either way, rounded at different points.</summary>
public class WanNumericsTests
{
    [Theory]
    [InlineData(WanModelType.TextToVideo)]
    [InlineData(WanModelType.ImageToVideo)]
    public void WithFloat32WeightsBothModesAgree(WanModelType type)
    {
        var config = TinyWan.Config(type, layers: 3);
        using var model = TinyWan.Model(5, config);
        var inputs = TinyWan.Inputs(6, config, batch: 2);
        model.Numerics = WanNumerics.Reference;
        using var reference = model.Forward(inputs);
        model.Numerics = WanNumerics.Fast;
        using var fast = model.Forward(inputs);
        Assert.True(TinyWan.RelativeError(fast, reference) < 1e-5, $"fp32 fast vs reference {TinyWan.RelativeError(fast, reference)}");
    }

    [Fact]
    public void WithBf16WeightsFastRoundsTheResidualStreamYetStaysClose()
    {
        var config = TinyWan.Config(layers: 3);
        using var model = TinyWan.Model(5, config, ScalarType.BFloat16);
        var inputs = TinyWan.Inputs(7, config);
        var blocks = new Dictionary<WanNumerics, List<Tensor>>();
        var outputs = new Dictionary<WanNumerics, Tensor>();
        foreach (var numerics in new[] { WanNumerics.Reference, WanNumerics.Fast })
        {
            model.Numerics = numerics;
            var list = blocks[numerics] = [];
            outputs[numerics] = model.Forward(inputs, blockOutput: (_, x) => list.Add(x.clone().DetachFromDisposeScope()));
        }
        Assert.All(blocks[WanNumerics.Reference].Skip(1), x => Assert.Equal(ScalarType.Float32, x.dtype));
        Assert.All(blocks[WanNumerics.Fast], x => Assert.Equal(ScalarType.BFloat16, x.dtype));
        Assert.Equal(ScalarType.Float32, outputs[WanNumerics.Fast].dtype);
        double error = TinyWan.RelativeError(outputs[WanNumerics.Fast], outputs[WanNumerics.Reference]);
        Assert.True(error > 0 && error < 5e-2, $"bf16 fast vs reference {error}");
    }

    [Fact]
    public void FastModeHandsTheProcessorHeadMajorNormalisedRotatedQueries()
    {
        var config = TinyWan.Config(layers: 1);
        using var model = TinyWan.Model(5, config);
        var seen = new List<AttentionCall>();
        var recording = new RecordingProcessor(seen);
        model.SelfAttentionProcessor = recording;
        var inputs = TinyWan.Inputs(8, config, frames: 2, height: 4, width: 6);
        model.Numerics = WanNumerics.Reference;
        using var _ = model.Forward(inputs);
        model.Numerics = WanNumerics.Fast;
        using var __ = model.Forward(inputs);
        Assert.Equal(2, seen.Count);
        Assert.True(seen[1].Query.is_contiguous() && seen[1].Key.is_contiguous() && seen[1].Value.is_contiguous());
        Assert.True(TinyWan.RelativeError(seen[1].Query, seen[0].Query) < 1e-5);
        Assert.True(TinyWan.RelativeError(seen[1].Key, seen[0].Key) < 1e-5);
        Assert.True(TinyWan.RelativeError(seen[1].Value, seen[0].Value) < 1e-5);
    }

    sealed class RecordingProcessor(List<AttentionCall> calls) : ISelfAttentionProcessor
    {
        public Tensor Process(AttentionCall call)
        {
            calls.Add(call with { Query = call.Query.clone().DetachFromDisposeScope(), Key = call.Key.clone().DetachFromDisposeScope(), Value = call.Value.clone().DetachFromDisposeScope() });
            return DenseAttentionProcessor.Instance.Process(call);
        }
    }
}
