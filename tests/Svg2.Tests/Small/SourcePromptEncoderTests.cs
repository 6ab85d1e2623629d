using Svg2.Models.Small;
using static TorchSharp.torch;

namespace Svg2.Tests.Small;

public sealed class SourcePromptEncoderTests
{
    static SourcePromptEncoder Encoder(int seed)
    {
        using var generator = new Generator((ulong)seed);
        return new SourcePromptEncoder(TinyFootage.Sources, 3, 5, generator: generator);
    }

    [Fact]
    public void ASourceNameGivesItsTableRow()
    {
        using var encoder = Encoder(1);
        using var tokens = encoder.Encode("Forest");
        Assert.Equal(new long[] { 1, 3, 5 }, tokens.shape);
        Assert.Equal(ScalarType.Float32, tokens.dtype);
        Assert.True(TestTensors.Same(tokens, encoder.Embedding[1].unsqueeze(0)));
        Assert.Equal(5, encoder.ContextDim);
    }

    [Fact]
    public void TheEmptyPromptGivesTheNullRow()
    {
        using var encoder = Encoder(2);
        Assert.Equal(3, encoder.NullIndex);
        using var tokens = encoder.Encode("  ");
        Assert.True(TestTensors.Same(tokens, encoder.Embedding[3].unsqueeze(0)));
        Assert.False(TestTensors.Same(tokens, encoder.Encode("harbour")));
    }

    [Fact]
    public void AnUnknownSourceListsTheKnownOnes()
    {
        using var encoder = Encoder(3);
        var error = Assert.Throws<ArgumentException>(() => encoder.Encode("desert"));
        Assert.Contains("'desert'", error.Message);
        Assert.Contains("harbour, forest, street", error.Message);
    }

    [Fact]
    public void BatchedLookupRecordsGradients()
    {
        using var encoder = Encoder(4);
        encoder.Embedding.requires_grad = true;
        using var tokens = encoder.Forward(tensor(new long[] { 2, 3, 2 }));
        Assert.Equal(new long[] { 3, 3, 5 }, tokens.shape);
        tokens.sum().backward();
        var gradient = encoder.Embedding.grad!;
        Assert.Equal(2.0, gradient[2].mean().item<float>());
        Assert.Equal(0.0, gradient[0].abs().sum().item<float>());
    }
}
