namespace Svg2.Models.Checkpoints.Pickle;

/// <summary>A module-level name that a pickle refers to (its GLOBAL or STACK_GLOBAL operand).</summary>
/// <param name="Module">The Python module, for example "collections".</param>
/// <param name="Name">The qualified name inside the module, for example "OrderedDict".</param>
internal sealed record PickleGlobal(string Module, string Name)
{
    /// <summary>The dotted Python name, for messages.</summary>
    public override string ToString() => $"{Module}.{Name}";
}
