namespace Svg2.Attention;

/// <summary>
/// The SVG2 state of a whole model: one <see cref="Svg2LayerState"/> per layer, or per layer and
/// guidance pass, according to <see cref="Sharing"/>.
/// </summary>
public sealed class Svg2ModelState : IDisposable
{
    readonly Dictionary<(int Layer, int Pass), Svg2LayerState> states = new();

    /// <summary>Creates the state of a model with <paramref name="layers"/> SVG2 layers.</summary>
    public Svg2ModelState(int layers, CacheSharing sharing = CacheSharing.SharedAcrossPasses)
    {
        if (layers < 1) throw new ArgumentException($"A model needs at least one layer (got {layers}).");
        Layers = layers;
        Sharing = sharing;
    }

    /// <summary>Number of layers.</summary>
    public int Layers { get; }

    /// <summary>How guidance passes share caches.</summary>
    public CacheSharing Sharing { get; }

    /// <summary>The state used by <paramref name="layer"/> in guidance pass <paramref name="pass"/>.</summary>
    public Svg2LayerState For(int layer, int pass = 0)
    {
        if (layer < 0 || layer >= Layers) throw new ArgumentOutOfRangeException(nameof(layer), $"Layer {layer} is outside [0, {Layers}).");
        if (pass < 0) throw new ArgumentOutOfRangeException(nameof(pass), $"Guidance pass {pass} is negative.");
        var key = (layer, Sharing == CacheSharing.SharedAcrossPasses ? 0 : pass);
        if (!states.TryGetValue(key, out var state)) states[key] = state = new Svg2LayerState();
        return state;
    }

    /// <summary>Resets every layer: call it at the start of each video.</summary>
    public void Reset()
    {
        foreach (var state in states.Values) state.Reset();
    }

    /// <inheritdoc/>
    public void Dispose() => Reset();
}
