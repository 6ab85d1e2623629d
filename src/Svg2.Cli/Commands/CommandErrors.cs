using System.CommandLine;
using Svg2.IO;
using Svg2.Models.Checkpoints;
using Svg2.Models.Video;

namespace Svg2.Cli.Commands;

/// <summary>Turns the errors a user can cause into one clear line and exit code 2, instead of a stack trace.</summary>
internal static class CommandErrors
{
    /// <summary>
    /// Throws when any of <paramref name="unused"/> was given on the command line (not by default) for a mode
    /// that does not use it, naming the options and what the mode is.
    /// </summary>
    public static void RejectUnused(ParseResult result, IEnumerable<Option> unused, string mode)
    {
        var given = unused.Where(o => result.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
        if (given.Count > 0) throw new ArgumentException($"{mode}; it does not use {string.Join(", ", given)}.");
    }

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception error) when (OutOfMemoryMessage.Matches(error))
        {
            Console.Error.WriteLine($"error: {OutOfMemoryMessage.Describe(error)}");
            return 2;
        }
        catch (Exception error) when (error is ArgumentException or SafeTensorsFormatException or CheckpointException or FileNotFoundException
                                        or DirectoryNotFoundException or NotSupportedException or InvalidOperationException
                                        or VideoIOException or InvalidDataException)
        {
            Console.Error.WriteLine($"error: {error.Message}");
            return 2;
        }
    }
}
