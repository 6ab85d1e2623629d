using Svg2.Models.Data;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// What a run trained on, recorded in its checkpoints so that a resume with another dataset is refused:
/// the clip count and shape, the source names, the held-out count and the sum of every byte of the clips.
/// </summary>
/// <param name="Path">The dataset file the run started from (for the record; a resume may name another copy).</param>
/// <param name="ClipShape">[N, F, H, W, 3].</param>
/// <param name="Sources">The source names.</param>
/// <param name="HeldOut">Held-out clips.</param>
/// <param name="ByteSum">The sum of all clip bytes.</param>
public sealed record DatasetFingerprint(string Path, long[] ClipShape, string[] Sources, long HeldOut, long ByteSum)
{
    /// <summary>The fingerprint of a dataset read from <paramref name="path"/>.</summary>
    public static DatasetFingerprint Of(ClipDataset data, string path)
    {
        using var sum = data.Clips.sum(ScalarType.Int64);
        using var heldOut = data.HeldOut.sum(ScalarType.Int64);
        return new DatasetFingerprint(System.IO.Path.GetFullPath(path), data.Clips.shape, data.Sources.ToArray(), heldOut.item<long>(), sum.item<long>());
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first difference from <paramref name="other"/> (the path may differ).</summary>
    public void RequireSameData(DatasetFingerprint other)
    {
        if (!ClipShape.SequenceEqual(other.ClipShape))
            throw new ArgumentException($"The run trained on clips [{string.Join(", ", ClipShape)}] ({Path}); this dataset has [{string.Join(", ", other.ClipShape)}].");
        if (!Sources.SequenceEqual(other.Sources))
            throw new ArgumentException($"The run trained on sources {string.Join(", ", Sources)}; this dataset has {string.Join(", ", other.Sources)}.");
        if (HeldOut != other.HeldOut || ByteSum != other.ByteSum)
            throw new ArgumentException($"This dataset's clips or held-out split differ from those the run trained on ({Path}).");
    }
}
