namespace Svg2.Attention;

/// <summary>
/// Trailing text rows of a joint video-text attention call (HunyuanVideo): the last
/// <see cref="Count"/> rows are the prompt (<see cref="PromptLength"/> rows) followed by padding.
/// </summary>
/// <remarks>
/// Text is excluded from clustering and from the top-p mass and keeps its original positions. It
/// forms two extra blocks: every video query cluster and the prompt attend the prompt; the prompt
/// attends every video key (dense over all real tokens); padding attends only padding; nothing but
/// padding attends padding.
/// </remarks>
/// <param name="Count">Text rows at the end of the sequence (256 in HunyuanVideo).</param>
/// <param name="PromptLength">Real prompt rows among them; the rest is padding.</param>
public readonly record struct TextTokens(int Count, int PromptLength)
{
    /// <summary>Padding rows.</summary>
    public int PaddingLength => Count - PromptLength;

    /// <summary>Throws when the text does not fit a sequence of <paramref name="sequenceLength"/> rows.</summary>
    public void Validate(long sequenceLength)
    {
        if (Count < 0 || PromptLength < 0 || PromptLength > Count)
            throw new ArgumentException($"Text tokens need 0 <= prompt length ({PromptLength}) <= text rows ({Count}).");
        if (Count >= sequenceLength)
            throw new ArgumentException($"{Count} text rows leave no video rows in a sequence of {sequenceLength}.");
    }
}
