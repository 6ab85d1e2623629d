using ScottPlot;
using SkiaSharp;
using Spectre.Console;

namespace Svg2.Cli.Rendering;

/// <summary>
/// Makes plots draw their text on machines without system fonts (GPU servers and containers often have
/// none): Skia then silently draws every title, label and tick without glyphs. A font file named by
/// <see cref="Variable"/> is used when set; otherwise, with no font on the machine, one note says so.
/// </summary>
internal static class PlotFonts
{
    /// <summary>The environment variable that names a .ttf or .otf file for every plot's text.</summary>
    public const string Variable = "SVG2_PLOT_FONT";

    const string FamilyName = "svg2-plot";
    static readonly Lazy<string?> Problem = new(Configure);

    /// <summary>Configures the font once per process; prints a note when plots will have no text.</summary>
    public static void Ensure()
    {
        if (Problem.Value is { } message && !_noted)
        {
            _noted = true;
            AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {message}");
        }
    }

    static bool _noted;

    static string? Configure()
    {
        var file = Environment.GetEnvironmentVariable(Variable);
        var problem = Check(file, SKFontManager.Default.FontFamilyCount);
        if (problem is null && !string.IsNullOrWhiteSpace(file))
        {
            Fonts.AddFontFile(FamilyName, file, bold: false, italic: false);
            Fonts.AddFontFile(FamilyName, file, bold: true, italic: false);
            Fonts.Default = FamilyName;
        }
        return problem;
    }

    /// <summary>Why plots would have no text, or null: <paramref name="file"/> is the variable's value, <paramref name="systemFamilies"/> the fonts found.</summary>
    internal static string? Check(string? file, int systemFamilies)
    {
        if (!string.IsNullOrWhiteSpace(file))
            return File.Exists(file) ? null : $"{Variable} names {file}, which does not exist: plots will have no text.";
        return systemFamilies > 0
            ? null
            : $"no fonts were found on this machine, so plots will have no text: install a font package (for example fonts-dejavu-core) or set {Variable} to a .ttf file.";
    }
}
