using System.CommandLine;

namespace Svg2.Cli.Commands.Conformance;

/// <summary>
/// <c>svg2 conformance</c>: runs one model component on the weights and inputs that a reference driver
/// in tools/reference wrote, and writes the outputs for that driver to compare with the public code's.
/// </summary>
public static class ConformanceCommand
{
    /// <summary>Builds the command and its subcommands.</summary>
    public static Command Create()
    {
        var command = new Command("conformance", "Run a model component on files written by a reference driver (tools/reference) and write its outputs for comparison.");
        command.Subcommands.Add(UMT5ConformanceCommand.Create());
        command.Subcommands.Add(VaeConformanceCommand.Create());
        command.Subcommands.Add(ClipConformanceCommand.Create());
        return command;
    }
}
