namespace Svg2.Models.Profiling;

/// <summary>
/// Receives the boundaries of a forward's op classes: from each <see cref="Enter"/> on, the work the
/// model enqueues belongs to that class until the next call. An implementation records device
/// events, so marking costs no host synchronisation.
/// </summary>
public interface IOpProfiler
{
    /// <summary>Work enqueued from now on belongs to <paramref name="opClass"/>.</summary>
    void Enter(WanOpClass opClass);

    /// <summary>Block <paramref name="layer"/> starts (its first op follows).</summary>
    void BlockStarts(int layer);
}
