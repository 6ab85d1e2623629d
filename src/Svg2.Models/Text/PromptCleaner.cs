using System.Net;
using System.Text.RegularExpressions;

namespace Svg2.Models.Text;

/// <summary>
/// Wan 2.1's prompt cleaning before tokenization (the 'whitespace' mode of wan/modules/tokenizers.py):
/// repair the text as ftfy does, decode HTML entities twice, trim, and collapse every run of white space
/// into one space.
/// </summary>
/// <remarks>
/// ftfy's repair of mojibake (text whose UTF-8 was decoded as Windows-1252 or Latin-1) has no .NET
/// equivalent and is not done; the other repairs of ftfy's defaults are (see <see cref="TextRepairs"/>).
/// HTML entities are decoded with <see cref="WebUtility.HtmlDecode(string)"/>, which knows the HTML 4 names
/// and needs the closing semicolon, where Python's html.unescape also knows the HTML 5 names and
/// decodes a few without the semicolon ("&amp;copy 2024"). Prompts with encoding damage or such
/// entities may therefore give other tokens than Wan's; ordinary text gives the same.
/// </remarks>
public static partial class PromptCleaner
{
    /// <summary>The cleaned prompt.</summary>
    public static string Clean(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var text = TextRepairs.Apply(prompt);
        text = WebUtility.HtmlDecode(WebUtility.HtmlDecode(text)).Trim();
        return WhiteSpace().Replace(text, " ").Trim();
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhiteSpace();
}
