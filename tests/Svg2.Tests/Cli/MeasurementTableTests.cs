using System.Text.RegularExpressions;
using Spectre.Console;
using Svg2.Cli.Rendering;
using Svg2.Evaluation.Methods;

namespace Svg2.Tests.Cli;

/// <summary>The measurement table says what its times measure, and on the CPU where the fast path is.</summary>
public class MeasurementTableTests
{
    static string Render(bool onCpu)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 400;
        var measurement = new MethodMeasurement("svg2", "top_p", 0.9, [0.2], [0.9], [0.05], 64, 30, 10, 70);
        console.Write(MeasurementTable.Summary("methods", [measurement], onCpu));
        // The caption wraps at the table's width: compare with the line breaks and padding folded.
        return Regex.Replace(writer.ToString(), @"\s+", " ");
    }

    [Fact]
    public void EveryTableExplainsItsTimeColumns()
    {
        Assert.Contains("prep is the budget-independent preparation", Render(onCpu: false));
        Assert.DoesNotContain("bench --device cuda", Render(onCpu: false));
    }

    [Fact]
    public void ACpuTableNamesTheReferencePathAndTheFastPath()
    {
        string text = Render(onCpu: true);
        Assert.Contains("portable reference path", text);
        Assert.Contains("svg2 bench --device cuda", text);
    }
}
