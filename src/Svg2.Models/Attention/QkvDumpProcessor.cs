using Svg2.IO;
using static TorchSharp.torch;

namespace Svg2.Models.Attention;

/// <summary>
/// Passes every call to an inner processor and, for the chosen layers and steps, writes the conditional pass's
/// q, k and v ([1, H, S, D], after the rotary embedding) as a safetensors file that <c>svg2 eval --qkv</c> reads:
/// <c>&lt;prefix&gt;-layer{L}-step{S}.safetensors</c>, with the token grid in its metadata.
/// </summary>
public sealed class QkvDumpProcessor(ISelfAttentionProcessor inner, string prefix, IReadOnlySet<int> layers, IReadOnlySet<int> steps) : ISelfAttentionProcessor
{
    readonly List<string> _written = [];

    /// <summary>The files written so far.</summary>
    public IReadOnlyList<string> Written => _written;

    /// <inheritdoc />
    public Tensor Process(AttentionCall call)
    {
        if (call.FirstPass == 0 && layers.Contains(call.Layer) && steps.Contains(call.Step))
        {
            string path = $"{prefix}-layer{call.Layer}-step{call.Step}.safetensors";
            using var q = call.Query.narrow(0, 0, 1).cpu();
            using var k = call.Key.narrow(0, 0, 1).cpu();
            using var v = call.Value.narrow(0, 0, 1).cpu();
            SafeTensorsWriter.Write(path, [new("q", q), new("k", k), new("v", v)],
                new Dictionary<string, string> { ["grid"] = $"{call.Grid.Frames}x{call.Grid.Height}x{call.Grid.Width}", ["layer"] = $"{call.Layer}", ["step"] = $"{call.Step}" });
            _written.Add(path);
        }
        return inner.Process(call);
    }
}
