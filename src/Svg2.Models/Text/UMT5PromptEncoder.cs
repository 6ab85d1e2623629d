using Svg2.Models.Checkpoints;
using Svg2.Models.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>
/// Wan 2.1's text side: cleans a prompt (<see cref="PromptCleaner"/>), tokenizes it
/// (<see cref="UMT5Tokenizer"/>) and encodes it with umT5 (<see cref="UMT5Encoder"/>), keeping the
/// prompt's own positions as Wan does ([u[:v] for u, v in zip(context, seq_lens)]).
/// </summary>
/// <remarks>
/// Owns the encoder. umT5-XXL holds 11 GB in bf16, which must not stay on the GPU while the transformer
/// denoises: after the prompts are encoded, <see cref="Release"/> frees the weights for good, and
/// <see cref="Offload"/> moves them to host memory (the next <see cref="Encode(string)"/> brings them
/// back), as Wan's offload_model does.
/// </remarks>
public sealed class UMT5PromptEncoder : IPromptEncoder, IDisposable
{
    UMT5Encoder? _encoder;

    /// <summary>The tokenizer.</summary>
    public UMT5Tokenizer Tokenizer { get; }

    /// <summary>Where prompts are encoded (the weights come back here after <see cref="Offload"/>).</summary>
    public Device Device { get; }

    /// <summary>See <see cref="UMT5PromptEncoderOptions.PadToTextLength"/>.</summary>
    public bool PadToTextLength { get; }

    /// <inheritdoc/>
    public int ContextDim { get; }

    /// <summary>True after <see cref="Release"/>: the weights are gone and encoding throws.</summary>
    public bool IsReleased => _encoder is null;

    /// <summary>Takes ownership of <paramref name="encoder"/>, which encodes where its weights are now.</summary>
    public UMT5PromptEncoder(UMT5Tokenizer tokenizer, UMT5Encoder encoder, bool padToTextLength = true)
    {
        Tokenizer = tokenizer;
        _encoder = encoder;
        Device = encoder.Device;
        PadToTextLength = padToTextLength;
        ContextDim = encoder.Config.Dim;
    }

    /// <summary>
    /// Reads the tokenizer from <paramref name="tokenizerFolder"/> (tokenizer.json or spiece.model) and
    /// the encoder's weights from <paramref name="weights"/> (official or transformers names).
    /// </summary>
    /// <exception cref="CheckpointException">A tokenizer file or a weight is missing or does not fit.</exception>
    /// <exception cref="DirectoryNotFoundException">The tokenizer folder does not exist.</exception>
    public static UMT5PromptEncoder Load(string tokenizerFolder, ITensorSource weights, UMT5PromptEncoderOptions? options = null)
    {
        options ??= new UMT5PromptEncoderOptions();
        var tokenizer = UMT5Tokenizer.FromFolder(tokenizerFolder, options.TextLength);
        var device = options.Device ?? (cuda.is_available() ? CUDA : CPU);
        UMT5Encoder encoder;
        if (options.Config is null) encoder = UMT5Checkpoint.Load(weights, device, options.WeightType);
        else
        {
            encoder = new UMT5Encoder(options.Config, device, options.WeightType);
            try { UMT5Checkpoint.Load(encoder, weights); }
            catch { encoder.Dispose(); throw; }
        }
        return new UMT5PromptEncoder(tokenizer, encoder, options.PadToTextLength);
    }

    /// <summary>The cleaned prompt's ids, for instance to warn when <see cref="TokenizedPrompt.Truncated"/>.</summary>
    public TokenizedPrompt Tokenize(string prompt) => Tokenizer.Tokenize(PromptCleaner.Clean(prompt));

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">After <see cref="Release"/>.</exception>
    public Tensor Encode(string prompt) => Encode(Tokenize(prompt));

    /// <summary>The context tokens [1, L, ContextDim] of tokenized ids, float32 on the CPU; L is the prompt's length.</summary>
    /// <exception cref="ArgumentException">The ids are not of the tokenizer's text length.</exception>
    /// <exception cref="ObjectDisposedException">After <see cref="Release"/>.</exception>
    public Tensor Encode(TokenizedPrompt tokens)
    {
        var encoder = _encoder ?? throw new ObjectDisposedException(nameof(UMT5PromptEncoder), "The umT5 weights were released.");
        if (tokens.Ids.Length != Tokenizer.TextLength || tokens.Length < 1 || tokens.Length > tokens.Ids.Length)
            throw new ArgumentException($"Tokenized prompt of {tokens.Ids.Length} ids with length {tokens.Length}; expected {Tokenizer.TextLength} ids and a length from 1 to that.");
        if (!SameDevice(encoder.Device, Device)) encoder.MoveTo(Device);

        using var scope = NewDisposeScope();
        int count = PadToTextLength ? tokens.Ids.Length : tokens.Length;
        var ids = tensor(tokens.Ids.Take(count).Select(id => (long)id).ToArray(), dtype: ScalarType.Int64).unsqueeze(0);
        var mask = PadToTextLength ? tensor(tokens.Mask().Select(m => (long)m).ToArray(), dtype: ScalarType.Int64).unsqueeze(0) : null;
        var output = encoder.Forward(ids, mask);
        return output.narrow(1, 0, tokens.Length).to(ScalarType.Float32, CPU).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Moves the weights to host memory; the next encoding moves them back to <see cref="Device"/>.</summary>
    public void Offload() => _encoder?.MoveTo(CPU);

    /// <summary>Frees the weights; encoding afterwards throws <see cref="ObjectDisposedException"/>.</summary>
    public void Release()
    {
        _encoder?.Dispose();
        _encoder = null;
    }

    /// <summary>Same as <see cref="Release"/>.</summary>
    public void Dispose() => Release();

    static bool SameDevice(Device a, Device b) =>
        a.type == b.type && (a.type != DeviceType.CUDA || a.index == b.index || a.index < 0 || b.index < 0);
}
