using Svg2.Models.Pipelines;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Small;

/// <summary>
/// The conditioning of a small footage model: a learned table of a few context tokens per footage source,
/// plus one null entry for classifier-free guidance's unconditional pass, read by the transformer's text
/// cross-attention as Wan reads umT5 tokens. As a prompt encoder its prompt is a source name (matched
/// without case); the empty prompt selects the null entry. Checkpoint key: "embedding",
/// [sources + 1, tokens, width], the null entry last.
/// </summary>
public sealed class SourcePromptEncoder : nn.Module, IPromptEncoder
{
    readonly string[] _sources;

    /// <summary>Creates the table with standard-normal entries drawn from <paramref name="generator"/> (or the default generator).</summary>
    public SourcePromptEncoder(IReadOnlyList<string> sources, int tokens, int contextDim, Device? device = null, ScalarType dtype = ScalarType.Float32,
        Generator? generator = null) : base(nameof(SourcePromptEncoder))
    {
        if (sources.Count == 0) throw new ArgumentException("The conditioning needs at least one footage source.");
        _sources = sources.ToArray();
        ContextDim = contextDim;
        using var initial = randn([_sources.Length + 1, tokens, contextDim], generator: generator);
        Embedding = new Parameter(initial.to(dtype, device ?? CPU), requires_grad: false);
        register_parameter("embedding", Embedding);
    }

    /// <summary>The learned tokens, [sources + 1, tokens, width]; the last entry is the null condition.</summary>
    public Parameter Embedding { get; }

    /// <summary>The source names, in table order.</summary>
    public IReadOnlyList<string> Sources => _sources;

    /// <summary>The table index of the null (unconditional) entry.</summary>
    public int NullIndex => _sources.Length;

    /// <inheritdoc/>
    public int ContextDim { get; }

    /// <summary>The table index of a source name, or <see cref="NullIndex"/> for the empty prompt.</summary>
    /// <exception cref="ArgumentException">No source has that name; the message lists the known ones.</exception>
    public int IndexOf(string prompt)
    {
        var name = prompt.Trim();
        if (name.Length == 0) return NullIndex;
        int index = Array.FindIndex(_sources, s => string.Equals(s, name, StringComparison.OrdinalIgnoreCase));
        if (index < 0)
            throw new ArgumentException($"Unknown footage source '{name}'. This model knows: {string.Join(", ", _sources)} (or the empty prompt for the unconditional pass).");
        return index;
    }

    /// <summary>The tokens of the given table entries, [B, tokens, width] in the table's dtype and device (recording gradients when the table requires them).</summary>
    public Tensor Forward(Tensor indices)
    {
        using var onDevice = indices.to(ScalarType.Int64, Embedding.device);
        return Embedding.index_select(0, onDevice);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The prompt is not a known source name or empty.</exception>
    public Tensor Encode(string prompt)
    {
        int index = IndexOf(prompt);
        using var noGrad = no_grad();
        using var row = Embedding.narrow(0, index, 1);
        return row.to(ScalarType.Float32, CPU).clone();
    }
}
