using Svg2.Cli.Rendering;

namespace Svg2.Tests.Cli;

public class PlotFontsTests
{
    [Fact]
    public void AMachineWithoutFontsIsToldHowToGetText()
    {
        var message = PlotFonts.Check(file: null, systemFamilies: 0);
        Assert.NotNull(message);
        Assert.Contains(PlotFonts.Variable, message);
    }

    [Fact]
    public void SystemFontsOrAnExistingFontFileNeedNoNote()
    {
        Assert.Null(PlotFonts.Check(file: null, systemFamilies: 3));
        var file = Path.GetTempFileName();
        try
        {
            Assert.Null(PlotFonts.Check(file, systemFamilies: 0));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void AMissingFontFileIsNamed()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"svg2-no-font-{Guid.NewGuid():N}.ttf");
        var message = PlotFonts.Check(missing, systemFamilies: 5);
        Assert.NotNull(message);
        Assert.Contains(missing, message);
    }
}
