using ScottPlot;
using SkiaSharp;
using Spectre.Console;

namespace Svg2.Cli.Rendering;

/// <summary>
/// Makes plots draw their text on machines without system fonts (GPU servers and containers often have
/// none): Skia then silently draws every title, label and tick without glyphs. A font file named by
/// <see cref="Variable"/> is used when set; otherwise, with no font on the machine, one note says so.
/// Where SkiaSharp's native library cannot load at all, plots are skipped with one note instead of ending
/// the command after its tables and data files are written.
/// </summary>
internal static class PlotFonts
{
    /// <summary>The environment variable that names a .ttf or .otf file for every plot's text.</summary>
    public const string Variable = "SVG2_PLOT_FONT";

    const string FamilyName = "svg2-plot";
    static readonly Lazy<(bool CanDraw, string? Note)> State = new(Configure);

    /// <summary>
    /// Configures the font once per process and prints a note when plots will have no text or cannot be drawn.
    /// </summary>
    /// <returns>Whether plots can be drawn (SkiaSharp's native library loads).</returns>
    public static bool Ensure()
    {
        var (canDraw, note) = State.Value;
        if (note is not null && !_noted)
        {
            _noted = true;
            AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {note}");
        }
        return canDraw;
    }

    static bool _noted;

    static (bool CanDraw, string? Note) Configure()
    {
        int families;
        try
        {
            families = SKFontManager.Default.FontFamilyCount;
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException)
        {
            var cause = e;
            while (cause.InnerException is { } inner) cause = inner;
            return (false, $"plots are not drawn: SkiaSharp's native library could not be loaded ({cause.Message.Split('\n')[0].Trim()}).");
        }
        var file = Environment.GetEnvironmentVariable(Variable);
        var problem = Check(file, families);
        if (problem is null && !string.IsNullOrWhiteSpace(file))
        {
            Fonts.AddFontFile(FamilyName, file, bold: false, italic: false);
            Fonts.AddFontFile(FamilyName, file, bold: true, italic: false);
            Fonts.Default = FamilyName;
        }
        return (true, problem);
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
