namespace Svg2.Tests.Cli;

/// <summary>Tests that redirect Console.Error (process-wide) run in this collection, one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}
