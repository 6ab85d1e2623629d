using System.Text.Json;
using Svg2.Models.Checkpoints;
using Svg2.Models.Text;

namespace Svg2.Tests.Text;

/// <summary>
/// The tokenizer against the Python references of tests/data/tokenizer: SentencePiece's own ids
/// (expected.json) and T5TokenizerFast's, which Wan uses (expected-hf.json).
/// </summary>
public sealed class UMT5TokenizerTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-tokenizer-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    static string Data(string file) => SharedData.Path(Path.Combine("tokenizer", file));

    static (string[] Strings, JsonElement Models) Expected(string file)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Data(file)));
        var root = document.RootElement.Clone();
        return (root.GetProperty("strings").EnumerateArray().Select(s => s.GetString()!).ToArray(), root.GetProperty("models"));
    }

    static int[][] Ids(JsonElement models, string model, string reference) =>
        models.GetProperty(model).GetProperty(reference).EnumerateArray()
            .Select(ids => ids.EnumerateArray().Select(id => id.GetInt32()).ToArray()).ToArray();

    static int[] Tokens(UMT5Tokenizer tokenizer, string text)
    {
        var prompt = tokenizer.Tokenize(text);
        return prompt.Ids[..prompt.Length];
    }

    [Theory]
    [InlineData("unigram", "unigram.model")]
    [InlineData("unigram-bytefallback", "unigram-bytefallback.model")]
    [InlineData("unigram", "unigram-hf/tokenizer.json")]
    [InlineData("unigram-bytefallback", "unigram-bytefallback-hf/tokenizer.json")]
    public void IdsEqualT5TokenizerFastForEveryString(string model, string file)
    {
        var (strings, models) = Expected("expected-hf.json");
        var expected = Ids(models, model, "t5_tokenizer_fast");
        var tokenizer = UMT5Tokenizer.FromFile(Data(file));
        var mismatches = strings.Select((text, i) => (text, i)).Where(s => !Tokens(tokenizer, s.text).SequenceEqual(expected[s.i]))
            .Select(s => JsonSerializer.Serialize(s.text)).ToList();
        Assert.True(mismatches.Count == 0, $"{file}: ids differ from T5TokenizerFast for {string.Join(", ", mismatches)}");
    }

    [Theory]
    [InlineData("unigram")]
    [InlineData("unigram-bytefallback")]
    public void IdsEqualSentencePieceExceptWhereItSpellsBytes(string model)
    {
        var (strings, models) = Expected("expected.json");
        var expected = Ids(models, model, "sentencepiece");
        var pieces = models.GetProperty(model).GetProperty("pieces").EnumerateArray()
            .Select(p => p.EnumerateArray().Select(x => x.GetString()!).ToArray()).ToArray();
        var tokenizer = UMT5Tokenizer.FromFile(Data(model + ".model"));
        for (int i = 0; i < strings.Length; i++)
        {
            // T5TokenizerFast ignores byte fallback: where SentencePiece spells bytes, it gives the unknown token.
            bool spellsBytes = pieces[i].Any(p => p.StartsWith("<0x"));
            var ours = tokenizer.EncodeText(strings[i]).ToArray();
            Assert.True(spellsBytes != ours.SequenceEqual(expected[i]), $"{model}, {JsonSerializer.Serialize(strings[i])}: ours {string.Join(",", ours)}, SentencePiece {string.Join(",", expected[i])}");
        }
    }

    [Fact]
    public void PromptsAreEndedAndPaddedToTheTextLength()
    {
        var tokenizer = UMT5Tokenizer.FromFile(Data("unigram.model"));
        Assert.Equal((512, 1, 0, 2), (tokenizer.TextLength, tokenizer.EndOfSentenceId, tokenizer.PadId, tokenizer.UnknownId));
        var pieces = tokenizer.EncodeText("A cat walks on the grass.");
        var prompt = tokenizer.Tokenize("A cat walks on the grass.");
        Assert.Equal(512, prompt.Ids.Length);
        Assert.Equal(pieces.Count + 1, prompt.Length);
        Assert.Equal(pieces, prompt.Ids[..pieces.Count]);
        Assert.Equal(1, prompt.Ids[pieces.Count]);
        Assert.All(prompt.Ids[prompt.Length..], id => Assert.Equal(0, id));
        Assert.Equal(Enumerable.Range(0, 512).Select(i => i < prompt.Length ? 1 : 0), prompt.Mask());
        Assert.False(prompt.Truncated);
    }

    [Fact]
    public void AnEmptyPromptIsTheEndOfSentenceAlone()
    {
        var prompt = UMT5Tokenizer.FromFile(Data("unigram.model"), textLength: 4).Tokenize("");
        Assert.Equal(new[] { 1, 0, 0, 0 }, prompt.Ids);
        Assert.Equal(1, prompt.Length);
    }

    [Fact]
    public void LongPromptsAreTruncatedKeepingTheEndOfSentence()
    {
        var tokenizer = UMT5Tokenizer.FromFile(Data("unigram.model"), textLength: 16);
        var text = string.Join(" ", Enumerable.Repeat("the grass", 40));
        var pieces = tokenizer.EncodeText(text);
        var prompt = tokenizer.Tokenize(text);
        Assert.Equal(16, prompt.Length);
        Assert.Equal(pieces.Take(15), prompt.Ids[..15]);
        Assert.Equal(1, prompt.Ids[15]);
        Assert.Equal(pieces.Count - 15, prompt.DroppedTokens);
        Assert.True(prompt.Truncated);
    }

    [Fact]
    public void ATextLengthBelowOneIsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => UMT5Tokenizer.FromFile(Data("unigram.model"), textLength: 0));

    [Fact]
    public void AFolderPrefersTokenizerJson()
    {
        File.Copy(Data("unigram.model"), Path.Combine(_directory, "spiece.model"));
        Assert.EndsWith("spiece.model", UMT5Tokenizer.FromFolder(_directory).SourceFile);
        File.Copy(Data("unigram-hf/tokenizer.json"), Path.Combine(_directory, "tokenizer.json"));
        Assert.EndsWith("tokenizer.json", UMT5Tokenizer.FromFolder(_directory).SourceFile);
    }

    [Fact]
    public void AFolderWithoutTokenizerFilesNamesTheFolderAndTheFiles()
    {
        var error = Assert.Throws<CheckpointException>(() => UMT5Tokenizer.FromFolder(_directory));
        Assert.Contains(_directory, error.Message);
        Assert.Contains("tokenizer.json", error.Message);
        Assert.Contains("spiece.model", error.Message);
        Assert.Throws<DirectoryNotFoundException>(() => UMT5Tokenizer.FromFolder(Path.Combine(_directory, "absent")));
    }

    [Theory]
    [InlineData("spiece.model", new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0x7F })]
    [InlineData("tokenizer.json", new byte[] { 0x7B, 0x22, 0x6D })]
    [InlineData("tokenizer.json", new byte[] { 0x7B, 0x7D })]
    public void BrokenFilesAreNamed(string name, byte[] content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, content);
        var error = Assert.Throws<CheckpointException>(() => UMT5Tokenizer.FromFile(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void TheCharacterTokenizerGivesOneIdPerCharacterThenEndOfSentenceAndPadding()
    {
        var tokenizer = UMT5Tokenizer.Characters(textLength: 16);
        Assert.Equal(3 + 2 * 94, tokenizer.VocabularySize);
        var tokens = tokenizer.Tokenize("ab c");
        // "▁a", "b", "▁c", then </s> and padding.
        Assert.Equal(4, tokens.Length);
        Assert.Equal(tokenizer.EndOfSentenceId, tokens.Ids[3]);
        Assert.All(tokens.Ids[4..], id => Assert.Equal(tokenizer.PadId, id));
        Assert.All(tokens.Ids[..3], id => Assert.True(id > 2 && id < tokenizer.VocabularySize));
        Assert.Equal(3, tokens.Ids.Take(3).Distinct().Count());
        var longPrompt = tokenizer.Tokenize(new string('x', 40));
        Assert.True(longPrompt.Truncated);
        Assert.Equal(16, longPrompt.Length);
    }
}
