using Svg2.Cuda.Runtime;

namespace Svg2.Tests.Cuda;

public class TailPairSettingTests
{
    [Theory]
    [InlineData(null, TailPairSetting.Default)]
    [InlineData("", TailPairSetting.Default)]
    [InlineData(" On ", true)]
    [InlineData("off", false)]
    [InlineData("OFF", false)]
    public void ValuesChooseWhetherTailsArePaired(string? setting, bool expected) => Assert.Equal(expected, TailPairSetting.Parse(setting));

    [Fact]
    public void AnUnknownValueIsRefusedWithTheSettingsName()
    {
        var error = Assert.Throws<ArgumentException>(() => TailPairSetting.Parse("maybe"));
        Assert.Contains("SVG2_TAIL_PAIRS must be on or off; got 'maybe'", error.Message);
    }
}
