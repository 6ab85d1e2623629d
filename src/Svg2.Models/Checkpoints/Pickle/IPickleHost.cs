namespace Svg2.Models.Checkpoints.Pickle;

/// <summary>
/// What a <see cref="PickleMachine"/> cannot decide alone: which globals exist, what calling them means,
/// what a persistent id stands for and what BUILD does. The host is the allowlist: anything it does not
/// know, it refuses with a <see cref="CheckpointException"/>, so no pickle can reach code it did not name.
/// </summary>
internal interface IPickleHost
{
    /// <summary>The value of a GLOBAL; throws for a name outside the allowlist.</summary>
    object ResolveGlobal(string module, string name);

    /// <summary>The result of REDUCE or NEWOBJ: <paramref name="callable"/> applied to <paramref name="arguments"/>.</summary>
    object? Call(object? callable, object?[] arguments);

    /// <summary>The object a persistent id (BINPERSID) stands for.</summary>
    object? PersistentLoad(object? id);

    /// <summary>Applies BUILD's state to an object made earlier.</summary>
    void Build(object? target, object? state);
}
