using Google.Protobuf;

namespace Svg2.Models.Text;

/// <summary>
/// What a SentencePiece model file (spiece.model, a ModelProto message of sentencepiece_model.proto)
/// holds for encoding as T5TokenizerFast encodes: the pieces with their scores, the special ids and the
/// normalizer settings (not the byte-fallback flag, which T5TokenizerFast ignores).
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers 3.0.0 reads these files itself but fails on models without a
/// beginning-of-sentence piece (bos_id = -1), which every T5 model is; its factory from pieces and
/// scores has no such limit, so the file is read here and handed to it.
/// </remarks>
internal sealed record SentencePieceModelFile(
    IReadOnlyList<(string Piece, float Score)> Pieces,
    int ModelType, int UnknownId, int EndOfSentenceId, int PadId, bool TreatWhitespaceAsSuffix,
    byte[] PrecompiledCharsMap, bool AddDummyPrefix, bool RemoveExtraWhitespaces, bool EscapeWhitespaces)
{
    /// <summary>TrainerSpec.ModelType.UNIGRAM.</summary>
    public const int Unigram = 1;

    /// <summary>Parses the file.</summary>
    /// <exception cref="InvalidProtocolBufferException">The file is not a protocol buffer message.</exception>
    public static SentencePieceModelFile Read(string path)
    {
        var pieces = new List<(string, float)>();
        // Defaults of sentencepiece_model.proto for fields a file may omit.
        int modelType = Unigram, unknownId = 0, endId = 2, padId = -1;
        bool suffix = false, dummyPrefix = true, removeExtra = true, escape = true;
        byte[] charsMap = [];

        var model = new CodedInputStream(File.ReadAllBytes(path));
        for (uint tag; (tag = model.ReadTag()) != 0;)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    pieces.Add(ReadPiece(model.ReadBytes()));
                    break;
                case 2:
                    var trainer = new CodedInputStream(model.ReadBytes().ToByteArray());
                    for (uint field; (field = trainer.ReadTag()) != 0;)
                    {
                        switch (WireFormat.GetTagFieldNumber(field))
                        {
                            case 3: modelType = trainer.ReadEnum(); break;
                            case 24: suffix = trainer.ReadBool(); break;
                            case 40: unknownId = trainer.ReadInt32(); break;
                            case 42: endId = trainer.ReadInt32(); break;
                            case 43: padId = trainer.ReadInt32(); break;
                            default: trainer.SkipLastField(); break;
                        }
                    }
                    break;
                case 3:
                    var normalizer = new CodedInputStream(model.ReadBytes().ToByteArray());
                    for (uint field; (field = normalizer.ReadTag()) != 0;)
                    {
                        switch (WireFormat.GetTagFieldNumber(field))
                        {
                            case 2: charsMap = normalizer.ReadBytes().ToByteArray(); break;
                            case 3: dummyPrefix = normalizer.ReadBool(); break;
                            case 4: removeExtra = normalizer.ReadBool(); break;
                            case 5: escape = normalizer.ReadBool(); break;
                            default: normalizer.SkipLastField(); break;
                        }
                    }
                    break;
                default:
                    model.SkipLastField();
                    break;
            }
        }
        return new SentencePieceModelFile(pieces, modelType, unknownId, endId, padId, suffix,
            charsMap, dummyPrefix, removeExtra, escape);
    }

    static (string Piece, float Score) ReadPiece(ByteString bytes)
    {
        var input = new CodedInputStream(bytes.ToByteArray());
        string piece = "";
        float score = 0;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: piece = input.ReadString(); break;
                case 2: score = input.ReadFloat(); break;
                default: input.SkipLastField(); break;
            }
        }
        return (piece, score);
    }
}
