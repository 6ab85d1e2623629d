using Svg2.IO;

namespace Svg2.Cli.Commands;

/// <summary>Turns the errors a user can cause into one clear line and exit code 2, instead of a stack trace.</summary>
internal static class CommandErrors
{
    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception error) when (error is ArgumentException or SafeTensorsFormatException or FileNotFoundException
                                        or DirectoryNotFoundException or NotSupportedException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {error.Message}");
            return 2;
        }
    }
}
