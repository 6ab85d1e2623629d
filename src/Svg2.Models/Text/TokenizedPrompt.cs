namespace Svg2.Models.Text;

/// <summary>
/// A prompt's token ids as Wan hands them to umT5: the text's tokens, then the end-of-sentence token,
/// then padding up to the text length; the attention mask is 1 on the first <see cref="Length"/> ids.
/// </summary>
/// <param name="Ids">Exactly the tokenizer's text length of ids.</param>
/// <param name="Length">True tokens, the end-of-sentence token included (1 for an empty prompt).</param>
/// <param name="DroppedTokens">Text tokens cut off to fit the text length (0 when the prompt fits).</param>
public sealed record TokenizedPrompt(int[] Ids, int Length, int DroppedTokens)
{
    /// <summary>True when the prompt was longer than the text length and lost its last tokens.</summary>
    public bool Truncated => DroppedTokens > 0;

    /// <summary>The attention mask: 1 for the first <see cref="Length"/> ids, 0 for the padding.</summary>
    public int[] Mask() => Enumerable.Range(0, Ids.Length).Select(i => i < Length ? 1 : 0).ToArray();
}
