using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.Tokenizers;
using Svg2.Models.Checkpoints;

namespace Svg2.Models.Text;

/// <summary>
/// The umT5 tokenizer as Wan 2.1 calls it (transformers' T5TokenizerFast for google/umt5-xxl): a
/// SentencePiece unigram model, the end-of-sentence token appended, truncation to the text length
/// (the end-of-sentence token kept) and padding with the pad id. Runs on Microsoft.ML.Tokenizers.
/// </summary>
/// <remarks>
/// Reads the Hugging Face tokenizer.json (what T5TokenizerFast reads) or the SentencePiece model
/// spiece.model, which is read as transformers converts it for T5TokenizerFast: byte fallback off, so
/// characters outside the vocabulary give the unknown token where SentencePiece itself would spell
/// their UTF-8 bytes. Runs of unknown characters become one unknown token, as in SentencePiece and in
/// Hugging Face's unigram model (Microsoft.ML.Tokenizers emits one per character). For text with runs
/// of spaces, or leading or trailing spaces, the tokenizer.json path follows Microsoft.ML.Tokenizers'
/// reading of the file's normalizer, which may differ from Hugging Face's; cleaned prompts
/// (<see cref="PromptCleaner"/>) have none.
/// </remarks>
public sealed class UMT5Tokenizer
{
    /// <summary>The Hugging Face tokenizer file, preferred when a folder holds both.</summary>
    public const string TokenizerJsonFileName = "tokenizer.json";

    /// <summary>The SentencePiece model file.</summary>
    public const string SentencePieceFileName = "spiece.model";

    readonly SentencePieceTokenizer _tokenizer;

    /// <summary>The file the tokenizer was read from.</summary>
    public string SourceFile { get; }

    /// <summary>Ids per tokenized prompt, the end-of-sentence token included.</summary>
    public int TextLength { get; }

    /// <summary>The id appended after the text ("&lt;/s&gt;", 1 for umT5).</summary>
    public int EndOfSentenceId { get; }

    /// <summary>The id that fills the rest of the text length ("&lt;pad&gt;", 0 for umT5).</summary>
    public int PadId { get; }

    /// <summary>The id of unknown text ("&lt;unk&gt;", 2 for umT5).</summary>
    public int UnknownId { get; }

    UMT5Tokenizer(SentencePieceTokenizer tokenizer, string sourceFile, int textLength)
    {
        _tokenizer = tokenizer;
        SourceFile = sourceFile;
        TextLength = textLength;
        EndOfSentenceId = tokenizer.EndOfSentenceId >= 0 ? tokenizer.EndOfSentenceId
            : throw new CheckpointException($"Tokenizer {sourceFile} has no end-of-sentence piece '</s>'.");
        PadId = tokenizer.Vocabulary.TryGetValue("<pad>", out int pad) ? pad
            : throw new CheckpointException($"Tokenizer {sourceFile} has no padding piece '<pad>'.");
        UnknownId = tokenizer.UnknownId;
    }

    /// <summary>
    /// Reads the tokenizer from a folder holding tokenizer.json or spiece.model (Wan's google/umt5-xxl
    /// folder, or the tokenizer folder of the diffusers layout); tokenizer.json when both are there.
    /// </summary>
    /// <exception cref="CheckpointException">The folder holds neither file, or the file cannot be used.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="textLength"/> is below 1.</exception>
    public static UMT5Tokenizer FromFolder(string folder, int textLength = WanPromptDefaults.TextLength)
    {
        CheckTextLength(textLength);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Tokenizer folder not found: {folder}");
        foreach (var name in new[] { TokenizerJsonFileName, SentencePieceFileName })
        {
            var path = Path.Combine(folder, name);
            if (File.Exists(path)) return FromFile(path, textLength);
        }
        throw new CheckpointException($"Folder {folder} holds no umT5 tokenizer: looked for {TokenizerJsonFileName} and {SentencePieceFileName}.");
    }

    /// <summary>Reads a tokenizer.json (a name ending in .json) or a SentencePiece model file (any other name).</summary>
    /// <exception cref="CheckpointException">The file cannot be parsed or is not a unigram model with the T5 special pieces.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="textLength"/> is below 1.</exception>
    public static UMT5Tokenizer FromFile(string path, int textLength = WanPromptDefaults.TextLength)
    {
        CheckTextLength(textLength);
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer file not found: {path}", path);
        try
        {
            var tokenizer = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? FromTokenizerJson(path) : FromSentencePieceModel(path);
            return new UMT5Tokenizer(tokenizer, path, textLength);
        }
        catch (Exception error) when (error is JsonException or InvalidDataException or NotSupportedException or ArgumentException
                                        or InvalidProtocolBufferException or FormatException)
        {
            throw new CheckpointException($"Tokenizer {path} cannot be used: {error.Message}", error);
        }
    }

    /// <summary>
    /// A tokenizer of single characters for runs without a tokenizer file (random-weight measurement runs):
    /// <c>&lt;pad&gt;</c> 0, <c>&lt;/s&gt;</c> 1, <c>&lt;unk&gt;</c> 2, then every printable ASCII character with and
    /// without SentencePiece's word-start mark, so a prompt gives about one id per character.
    /// </summary>
    public static UMT5Tokenizer Characters(int textLength = WanPromptDefaults.TextLength)
    {
        CheckTextLength(textLength);
        var pieces = new List<(string Piece, float Score)> { ("<pad>", 0), ("</s>", 0), ("<unk>", 0) };
        for (char c = '!'; c <= '~'; c++)
        {
            pieces.Add(("\u2581" + c, -1));
            pieces.Add((c.ToString(), -2));
        }
        var tokenizer = SentencePieceTokenizer.Create(pieces, 2, addBeginningOfSentence: false, addEndOfSentence: false,
            null, true, true, false, byteFallback: false);
        return new UMT5Tokenizer(tokenizer, "(built-in character tokenizer)", textLength);
    }

    /// <summary>Ids the tokenizer can give: its vocabulary's size.</summary>
    public int VocabularySize => _tokenizer.Vocabulary.Count;

    static void CheckTextLength(int textLength)
    {
        // One id is the end-of-sentence token, which every prompt keeps.
        if (textLength < 1) throw new ArgumentOutOfRangeException(nameof(textLength), textLength, "The text length must be at least 1.");
    }

    static SentencePieceTokenizer FromTokenizerJson(string path)
    {
        using var stream = File.OpenRead(path);
        return SentencePieceTokenizer.CreateFromTokenizerJson(stream, addBeginningOfSentence: false, addEndOfSentence: false);
    }

    static SentencePieceTokenizer FromSentencePieceModel(string path)
    {
        var model = SentencePieceModelFile.Read(path);
        if (model.Pieces.Count == 0) throw new InvalidDataException("the file holds no pieces (not a SentencePiece model?).");
        if (model.ModelType != SentencePieceModelFile.Unigram)
            throw new NotSupportedException($"the SentencePiece model type is {model.ModelType}; umT5 uses a unigram model (type 1).");
        // The library's factory from pieces always removes extra white space, as SentencePiece's default does.
        if (!model.RemoveExtraWhitespaces) throw new NotSupportedException("models that keep extra white space are not supported.");
        if (model.UnknownId < 0 || model.UnknownId >= model.Pieces.Count)
            throw new InvalidDataException($"the unknown-piece id {model.UnknownId} is outside the {model.Pieces.Count} pieces.");
        // Byte fallback off whatever the file says: transformers' T5Converter builds T5TokenizerFast that way,
        // so Wan spells characters outside the vocabulary as one unknown token per run, not as bytes.
        var tokenizer = SentencePieceTokenizer.Create(model.Pieces, model.UnknownId, addBeginningOfSentence: false, addEndOfSentence: false,
            model.PrecompiledCharsMap, model.AddDummyPrefix, model.EscapeWhitespaces, model.TreatWhitespaceAsSuffix, byteFallback: false);
        // The factory finds the special pieces by name; the file's ids must agree.
        if (tokenizer.EndOfSentenceId != model.EndOfSentenceId)
            throw new InvalidDataException($"the end-of-sentence id is {model.EndOfSentenceId}, but '</s>' is piece {tokenizer.EndOfSentenceId}.");
        if (model.PadId >= 0 && (!tokenizer.Vocabulary.TryGetValue("<pad>", out int pad) || pad != model.PadId))
            throw new InvalidDataException($"the padding id is {model.PadId}, but that piece is not '<pad>'.");
        return tokenizer;
    }

    /// <summary>The ids of a text's pieces, without the end-of-sentence token, truncation or padding.</summary>
    public IReadOnlyList<int> EncodeText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = _tokenizer.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false);
        var fused = new List<int>(ids.Count);
        foreach (int id in ids)
            if (id != UnknownId || fused.Count == 0 || fused[^1] != UnknownId) fused.Add(id);
        return fused;
    }

    /// <summary>
    /// The text's pieces, truncated to leave room for the end-of-sentence token, that token, and padding
    /// to <see cref="TextLength"/>. A truncated prompt reports how many tokens it lost; it is not an error.
    /// </summary>
    public TokenizedPrompt Tokenize(string text)
    {
        var pieces = EncodeText(text);
        int kept = Math.Min(pieces.Count, TextLength - 1);
        var ids = new int[TextLength];
        for (int i = 0; i < kept; i++) ids[i] = pieces[i];
        ids[kept] = EndOfSentenceId;
        for (int i = kept + 1; i < TextLength; i++) ids[i] = PadId;
        return new TokenizedPrompt(ids, kept + 1, pieces.Count - kept);
    }
}
