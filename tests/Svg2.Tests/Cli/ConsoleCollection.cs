namespace Svg2.Tests.Cli;

/// <summary>Tests that redirect Console.Error (process-wide) run in this collection, one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}

/// <summary>Runs a command with Console.Error redirected; only for tests in <see cref="ConsoleCollection"/>.</summary>
static class StandardError
{
    /// <summary>The command's exit code and what it wrote to stderr.</summary>
    public static (int Code, string Text) Capture(Func<int> command)
    {
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        try
        {
            return (command(), error.ToString());
        }
        finally
        {
            Console.SetError(original);
        }
    }
}
