namespace Svg2.Models.Data;

/// <summary>What one footage source gave a dataset. Clip starts are frame indices at the dataset's frame rate.</summary>
/// <param name="Name">The source's name in the dataset (its file name, without a .gz suffix).</param>
/// <param name="Path">The file it was read from.</param>
/// <param name="NativeFps">The file's own frame rate.</param>
/// <param name="Plan">Where its clips could lie.</param>
/// <param name="TrainingStarts">First frames of the training clips kept (all of the plan's unless a size bound thinned them).</param>
/// <param name="HeldOutStarts">First frames of the held-out clips kept.</param>
public sealed record FootageSourceReport(string Name, string Path, double NativeFps, ClipPlan Plan,
    IReadOnlyList<int> TrainingStarts, IReadOnlyList<int> HeldOutStarts);
