namespace Svg2.Models.Data;

/// <summary>A dataset cut from footage and the account of each source's clips; disposing it disposes the dataset.</summary>
/// <param name="Dataset">The clips, their sources and held-out flags.</param>
/// <param name="Sources">Per source, in the dataset's source order.</param>
/// <param name="ClipBytes">Bytes one clip takes in the file (its frames, source index and flag).</param>
public sealed record FootageBuild(ClipDataset Dataset, IReadOnlyList<FootageSourceReport> Sources, long ClipBytes) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose() => Dataset.Dispose();
}
