using static TorchSharp.torch;

namespace Svg2.Models.Checkpoints.Pth;

/// <summary>
/// A storage that a torch.save pickle refers to by persistent id: the archive entry data/<see cref="Key"/>
/// holds <see cref="ElementCount"/> little-endian elements of <see cref="Type"/>.
/// </summary>
internal sealed record PthStorage(string Key, ScalarType Type, int ElementSize, long ElementCount)
{
    /// <summary>The storage's byte count (checked against its archive entry when the file is opened).</summary>
    public long ByteCount => ElementCount * ElementSize;
}
