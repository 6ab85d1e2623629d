using System.CommandLine;

namespace Svg2.Cli.Commands.Conformance;

/// <summary>
/// <c>svg2 conformance</c>: the parent of the commands that run one model component on the inputs of a
/// reference driver (tools/reference) and write its outputs, for checks against the public code.
/// </summary>
public static class ConformanceCommand
{
    /// <summary>The command with its subcommands.</summary>
    public static Command Create()
    {
        var command = new Command("conformance", "Run a model component on a reference driver's inputs and write its outputs (checks against the public code).");
        command.Subcommands.Add(VaeConformanceCommand.Create());
        return command;
    }
}
