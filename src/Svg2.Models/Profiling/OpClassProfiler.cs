namespace Svg2.Models.Profiling;

/// <summary>
/// Splits forwards into op classes and blocks on a <see cref="DeviceTimeline"/>: a mark at every class
/// change and block start, no host synchronisation until <see cref="End"/>.
/// </summary>
public sealed class OpClassProfiler(DeviceTimeline timeline) : IOpProfiler
{
    readonly List<(int Mark, WanOpClass Class)> _changes = [];
    readonly List<int> _blockStarts = [];
    WanOpClass? _current;

    /// <summary>Starts a forward: work from here on is <see cref="WanOpClass.OutsideBlocks"/> until the model says otherwise.</summary>
    public void Begin()
    {
        timeline.Clear();
        _changes.Clear();
        _blockStarts.Clear();
        _current = null;
        Enter(WanOpClass.OutsideBlocks);
    }

    /// <inheritdoc/>
    public void Enter(WanOpClass opClass)
    {
        if (_current == opClass) return;
        _changes.Add((timeline.Mark(), opClass));
        _current = opClass;
    }

    /// <inheritdoc/>
    public void BlockStarts(int layer)
    {
        // The mark splits the current class's stretch; its time is summed all the same.
        int mark = timeline.Mark();
        _changes.Add((mark, _current ?? WanOpClass.OutsideBlocks));
        _blockStarts.Add(mark);
    }

    /// <summary>Ends the forward, waits for the device and returns where its time went.</summary>
    public ForwardProfile End()
    {
        int end = timeline.Mark();
        var perClass = Enum.GetValues<WanOpClass>().ToDictionary(c => c, _ => 0.0);
        for (int i = 0; i < _changes.Count; i++)
        {
            int next = i + 1 < _changes.Count ? _changes[i + 1].Mark : end;
            perClass[_changes[i].Class] += timeline.Between(_changes[i].Mark, next);
        }
        // A block ends where the next starts; the last one where the work after the blocks (the head) begins.
        int afterBlocks = _changes.Where(c => c.Class == WanOpClass.OutsideBlocks && _blockStarts.Count > 0 && c.Mark > _blockStarts[^1])
            .Select(c => c.Mark).DefaultIfEmpty(end).First();
        var blocks = _blockStarts.Select((start, i) => timeline.Between(start, i + 1 < _blockStarts.Count ? _blockStarts[i + 1] : afterBlocks)).ToList();
        return new ForwardProfile(timeline.Between(0, end), perClass, blocks);
    }
}
