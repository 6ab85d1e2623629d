using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Svg2.Models.Text;

/// <summary>
/// The repairs of Python's ftfy.fix_text (version 6, default settings) that need no guess about how text
/// was mis-decoded: HTML entities ending in a semicolon (only when the line holds no '&lt;'), Latin
/// ligatures, full- and half-width forms, curly quotes, line breaks, lone surrogates, terminal escapes,
/// stray control characters and NFC normalisation, repeated until nothing changes, line by line.
/// </summary>
/// <remarks>
/// Not done, because .NET has no equivalent of ftfy's encoding detector: mojibake repair (UTF-8 read as
/// Windows-1252 or Latin-1, such as "cafÃ©" for "café"), C1 control characters read as Windows-1252, and
/// HTML5-only or upper-cased entity names (<see cref="WebUtility.HtmlDecode(string)"/> knows the HTML 4 names).
/// Text with such damage reaches the tokenizer as it is and may give other tokens than Wan's.
/// </remarks>
internal static partial class TextRepairs
{
    /// <summary>Applies every repair until the text no longer changes.</summary>
    public static string Apply(string text)
    {
        var lines = new StringBuilder(text.Length);
        int start = 0;
        while (start < text.Length)
        {
            int end = text.IndexOf('\n', start);
            end = end < 0 ? text.Length : end + 1;
            lines.Append(ApplyToLine(text[start..end]));
            start = end;
        }
        return lines.ToString();
    }

    static string ApplyToLine(string line)
    {
        bool unescape = !line.Contains('<');
        while (true)
        {
            var before = line;
            if (unescape) line = EntityPattern().Replace(line, DecodeEntity);
            line = ReplaceLigatures(line);
            line = NarrowWidths(line);
            line = SingleQuotes().Replace(DoubleQuotes().Replace(line, "\""), "'");
            line = line.Replace("\r\n", "\n").Replace('\r', '\n').Replace('\u2028', '\n').Replace('\u2029', '\n').Replace('\u0085', '\n');
            line = ReplaceLoneSurrogates(line);
            line = TerminalEscapes().Replace(line, "");
            line = RemoveControlCharacters(line);
            line = line.Normalize(NormalizationForm.FormC);
            if (line == before) return line;
        }
    }

    // ftfy decodes only entities with a closing semicolon, so that "this&not that" stays as written.
    static string DecodeEntity(Match match)
    {
        var decoded = WebUtility.HtmlDecode(match.Value);
        return decoded.Contains(';') ? match.Value : decoded;
    }

    static string ReplaceLigatures(string text)
    {
        if (!text.Any(c => Ligatures.ContainsKey(c))) return text;
        var result = new StringBuilder(text.Length + 8);
        foreach (char c in text) result.Append(Ligatures.TryGetValue(c, out var letters) ? letters : c);
        return result.ToString();
    }

    // Latin ligatures and the legacy digraphs ftfy takes apart; ligatures such as æ stay.
    static readonly Dictionary<char, string> Ligatures = new()
    {
        ['Ĳ'] = "IJ", ['ĳ'] = "ij", ['ŉ'] = "ʼn", ['Ǳ'] = "DZ", ['ǲ'] = "Dz", ['ǳ'] = "dz", ['Ǆ'] = "DŽ", ['ǅ'] = "Dž",
        ['ǆ'] = "dž", ['Ǉ'] = "LJ", ['ǈ'] = "Lj", ['ǉ'] = "lj", ['Ǌ'] = "NJ", ['ǋ'] = "Nj", ['ǌ'] = "nj",
        ['ﬀ'] = "ff", ['ﬁ'] = "fi", ['ﬂ'] = "fl", ['ﬃ'] = "ffi", ['ﬄ'] = "ffl", ['ﬅ'] = "ſt", ['ﬆ'] = "st",
    };

    // The ideographic space becomes a space; the forms U+FF01 to U+FFEF become their NFKC equivalent.
    static string NarrowWidths(string text)
    {
        if (!text.Any(c => c == '\u3000' || c is >= '\uFF01' and <= '\uFFEF')) return text;
        var result = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            if (c == '\u3000') result.Append(' ');
            else if (c is >= '\uFF01' and <= '\uFFEF') result.Append(c.ToString().Normalize(NormalizationForm.FormKC));
            else result.Append(c);
        }
        return result.ToString();
    }

    static string ReplaceLoneSurrogates(string text)
    {
        if (!text.Any(char.IsSurrogate)) return text;
        var result = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                result.Append(text, i, 2);
                i++;
            }
            else result.Append(char.IsSurrogate(text[i]) ? '\uFFFD' : text[i]);
        }
        return result.ToString();
    }

    // C0 controls other than tab, line feed, form feed and carriage return; DEL; the deprecated Arabic
    // format controls; the byte order mark; the interlinear annotation and object replacement characters.
    static bool IsUnwantedControl(char c) =>
        c is <= '\u0008' or '\u000B' or (>= '\u000E' and <= '\u001F') or '\u007F' or (>= '\u206A' and <= '\u206F')
            or '\uFEFF' or (>= '\uFFF9' and <= '\uFFFC');

    static string RemoveControlCharacters(string text) =>
        text.Any(IsUnwantedControl) ? string.Concat(text.Where(c => !IsUnwantedControl(c))) : text;

    [GeneratedRegex("&#?[0-9A-Za-z]{1,24};")]
    private static partial Regex EntityPattern();

    [GeneratedRegex("[\u02bc\u2018-\u201b]")]
    private static partial Regex SingleQuotes();

    [GeneratedRegex("[\u201c-\u201f]")]
    private static partial Regex DoubleQuotes();

    [GeneratedRegex("\u001b\\[((?:\\d|;)*)([a-zA-Z])")]
    private static partial Regex TerminalEscapes();
}
