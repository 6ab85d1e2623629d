using Svg2.Attention;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Backends;

/// <summary>
/// What a fused SVG2 pipeline is sized for: every call with an equal shape can share one pipeline
/// (and its buffers), whatever layer it comes from.
/// </summary>
/// <param name="Groups">G = batch x heads.</param>
/// <param name="Tokens">S, text rows included (self-attention: as many query as key rows).</param>
/// <param name="HeadDim">D.</param>
/// <param name="QueryClusters">QC, video query clusters (after scaling).</param>
/// <param name="KeyClusters">KC, video key clusters (after scaling).</param>
/// <param name="DType">Element type of q, k, v.</param>
/// <param name="DeviceType">Device kind of q, k, v.</param>
/// <param name="DeviceIndex">Device ordinal of q, k, v.</param>
/// <param name="Text">Trailing text rows, or null.</param>
public readonly record struct FusedShape(long Groups, long Tokens, int HeadDim, int QueryClusters, int KeyClusters, ScalarType DType,
    DeviceType DeviceType, int DeviceIndex, TextTokens? Text)
{
    /// <summary>The shape of a call on [G, S, D] inputs like <paramref name="q"/>.</summary>
    public static FusedShape Of(Tensor q, int queryClusters, int keyClusters, TextTokens? text) =>
        new(q.shape[0], q.shape[1], (int)q.shape[2], queryClusters, keyClusters, q.dtype, q.device_type, Math.Max(0, (int)q.device_index), text);

    /// <summary>The device of the call.</summary>
    public Device Device => new(DeviceType, DeviceIndex);
}
