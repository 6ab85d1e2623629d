using static TorchSharp.torch;

namespace Svg2.Evaluation.Workloads;

/// <summary>
/// One generated attention input: q, k, v [B, heads, S, D] with the 3D RoPE already applied to q and
/// k, the character of each head, and the scene segment of every token.
/// </summary>
/// <param name="Shape">The shape it was generated for.</param>
/// <param name="Query">Queries [B, heads, S, D].</param>
/// <param name="Key">Keys [B, heads, S, D].</param>
/// <param name="Value">Values [B, heads, S, D].</param>
/// <param name="HeadKinds">The character of each head (the same for every batch element).</param>
/// <param name="Segments">Scene segment of every token, int64 [B, S] on the CPU; -1 on text rows.</param>
public sealed record VideoLikeSample(VideoShape Shape, Tensor Query, Tensor Key, Tensor Value, IReadOnlyList<HeadKind> HeadKinds, Tensor Segments) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        Query.Dispose();
        Key.Dispose();
        Value.Dispose();
        Segments.Dispose();
    }
}
