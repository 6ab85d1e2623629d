using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// What the causal layers of one encoder or decoder pass remember between the time chunks of one video:
/// for each layer, the last input frames its next chunk needs, and whether it has seen the stream's
/// first frame. Create one per video (the public code's <c>feat_cache</c>, cleared per call) and feed
/// it the chunks in order; it owns the frames it keeps.
/// </summary>
/// <remarks>
/// Layers are keyed by identity rather than by their order of calls (the public code's
/// <c>feat_idx</c>), so a chunk may skip a layer without shifting the others' memory.
/// </remarks>
public sealed class CausalCache : IDisposable
{
    readonly Dictionary<object, Tensor> _frames = new(ReferenceEqualityComparer.Instance);
    readonly HashSet<object> _started = new(ReferenceEqualityComparer.Instance);

    /// <summary>The frames <paramref name="layer"/> kept from the previous chunk, or null before its first chunk.</summary>
    internal Tensor? Frames(object layer) => _frames.GetValueOrDefault(layer);

    /// <summary>
    /// Replaces what <paramref name="layer"/> keeps. The cache takes ownership: the tensor leaves the
    /// caller's dispose scope, so that a per-chunk scope does not free it.
    /// </summary>
    internal void Keep(object layer, Tensor frames)
    {
        if (_frames.Remove(layer, out var previous)) previous.Dispose();
        _frames[layer] = frames.DetachFromDisposeScope();
    }

    /// <summary>True on the first call for <paramref name="layer"/>, false on every later one.</summary>
    internal bool Start(object layer) => _started.Add(layer);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var frames in _frames.Values) frames.Dispose();
        _frames.Clear();
        _started.Clear();
    }
}
