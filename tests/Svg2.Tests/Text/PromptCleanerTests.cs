using Svg2.Models.Text;

namespace Svg2.Tests.Text;

public sealed class PromptCleanerTests
{
    [Theory]
    [InlineData("  A cat\t walks\n\non   grass.  ", "A cat walks on grass.")]
    [InlineData("a\u00A0b\u3000c\u2028d", "a b c d")]
    [InlineData("", "")]
    [InlineData(" \t\r\n ", "")]
    public void WhiteSpaceCollapsesToSingleSpacesAndIsTrimmed(string prompt, string cleaned) =>
        Assert.Equal(cleaned, PromptCleaner.Clean(prompt));

    [Theory]
    [InlineData("Tom &amp; Jerry", "Tom & Jerry")]
    [InlineData("&amp;lt;b&amp;gt;bold", "<b>bold")]
    [InlineData("caf&eacute; &#233; &#xE9;", "café é é")]
    public void HtmlEntitiesAreDecoded(string prompt, string cleaned) =>
        Assert.Equal(cleaned, PromptCleaner.Clean(prompt));

    [Theory]
    [InlineData("\u201Cquoted\u201D and \u2018single\u2019", "\"quoted\" and 'single'")]
    [InlineData("\uFB01ne \uFB02ow", "fine flow")]
    [InlineData("ＦＵＬＬ ｗｉｄｔｈ！", "FULL width!")]
    [InlineData("e\u0301cole", "école")]
    [InlineData("bell\u0007 and\u001B[31m red\u001B[0m text\uFEFF", "bell and red text")]
    public void FtfyRepairsThatNeedNoEncodingGuessAreApplied(string prompt, string cleaned) =>
        Assert.Equal(cleaned, PromptCleaner.Clean(prompt));

    [Fact]
    public void EntitiesWithoutSemicolonStayAsWritten()
    {
        // A documented difference: Python's html.unescape, which Wan applies, reads "&not" here as "¬".
        Assert.Equal("this&not that", PromptCleaner.Clean("this&not that"));
    }

    [Fact]
    public void WansNegativePromptLosesItsFullWidthCommas()
    {
        // ftfy turns the full-width commas of Wan's own negative prompt into ASCII commas before tokenization.
        var cleaned = PromptCleaner.Clean(WanPromptDefaults.NegativePrompt);
        Assert.DoesNotContain('\uFF0C', cleaned);
        Assert.StartsWith("色调艳丽,过曝,静态,", cleaned);
        Assert.EndsWith("背景人很多,倒着走", cleaned);
    }

    [Fact]
    public void TextWithoutDamageIsUnchanged()
    {
        const string prompt = "Two anthropomorphic cats in comfy boxing gear fight intensely on a spotlighted stage.";
        Assert.Equal(prompt, PromptCleaner.Clean(prompt));
    }
}
