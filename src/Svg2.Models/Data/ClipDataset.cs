using System.Globalization;
using System.Text.Json;
using Svg2.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Data;

/// <summary>
/// Short video clips cut from footage, for training and evaluating a small video model: RGB frames
/// [N, F, H, W, 3] uint8, the footage source of each clip, and which clips are held out for evaluation.
/// Stored as one safetensors file: tensors "clips", "source" (int64 [N]) and "heldout" (uint8 [N], 1 =
/// held out), and metadata "sources" (a JSON array of source names; a clip's source indexes it) and "fps".
/// </summary>
public sealed class ClipDataset : IDisposable
{
    /// <summary>Creates a dataset; it takes ownership of the tensors.</summary>
    /// <exception cref="ArgumentException">Shapes, types or source indices do not agree.</exception>
    public ClipDataset(Tensor clips, Tensor source, Tensor heldOut, IReadOnlyList<string> sources, double fps)
    {
        if (clips.dtype != ScalarType.Byte || clips.dim() != 5 || clips.shape[4] != 3)
            throw new ArgumentException($"Clips must be uint8 [N, F, H, W, 3]; got {clips.dtype} [{string.Join(", ", clips.shape)}].");
        long n = clips.shape[0];
        if (source.dtype != ScalarType.Int64 || source.dim() != 1 || source.shape[0] != n)
            throw new ArgumentException($"Source must be int64 [{n}]; got {source.dtype} [{string.Join(", ", source.shape)}].");
        if (heldOut.dtype != ScalarType.Byte || heldOut.dim() != 1 || heldOut.shape[0] != n)
            throw new ArgumentException($"Held-out flags must be uint8 [{n}]; got {heldOut.dtype} [{string.Join(", ", heldOut.shape)}].");
        if (sources.Count == 0) throw new ArgumentException("A dataset needs at least one source name.");
        if (n > 0 && (source.min().ToInt64() < 0 || source.max().ToInt64() >= sources.Count))
            throw new ArgumentException($"Source indices must lie in [0, {sources.Count}).");
        if (!(fps > 0)) throw new ArgumentException($"Frame rate must be positive; got {fps}.");
        Clips = clips; Source = source; HeldOut = heldOut; Sources = sources; Fps = fps;
    }

    /// <summary>RGB frames [N, F, H, W, 3] uint8.</summary>
    public Tensor Clips { get; }

    /// <summary>Each clip's source index [N] int64.</summary>
    public Tensor Source { get; }

    /// <summary>1 where the clip is held out for evaluation [N] uint8.</summary>
    public Tensor HeldOut { get; }

    /// <summary>Source names; a clip's source indexes this list.</summary>
    public IReadOnlyList<string> Sources { get; }

    /// <summary>The footage's frame rate.</summary>
    public double Fps { get; }

    /// <summary>Number of clips.</summary>
    public long Count => Clips.shape[0];

    /// <summary>Writes the dataset as one safetensors file.</summary>
    public void Write(string path) =>
        SafeTensorsWriter.Write(path,
            [new("clips", Clips), new("source", Source), new("heldout", HeldOut)],
            new Dictionary<string, string>
            {
                ["sources"] = JsonSerializer.Serialize(Sources.ToArray(), DataJson.Default.StringArray),
                ["fps"] = Fps.ToString("R", CultureInfo.InvariantCulture),
            });

    /// <summary>Reads a dataset written by <see cref="Write"/>.</summary>
    /// <exception cref="InvalidDataException">A tensor or metadata entry is missing or malformed; the message names it.</exception>
    public static ClipDataset Read(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        foreach (var name in new[] { "clips", "source", "heldout" })
            if (!file.Contains(name)) throw new InvalidDataException($"{path} is not a clip dataset: it has no tensor '{name}'.");
        if (!file.Metadata.TryGetValue("sources", out var sourcesJson) || !file.Metadata.TryGetValue("fps", out var fpsText))
            throw new InvalidDataException($"{path} is not a clip dataset: its metadata lacks 'sources' or 'fps'.");
        string[] sources;
        try { sources = JsonSerializer.Deserialize(sourcesJson, DataJson.Default.StringArray) ?? []; }
        catch (JsonException e) { throw new InvalidDataException($"{path}: metadata 'sources' is not a JSON array of names ({e.Message})."); }
        if (!double.TryParse(fpsText, NumberStyles.Float, CultureInfo.InvariantCulture, out double fps))
            throw new InvalidDataException($"{path}: metadata 'fps' is not a number ('{fpsText}').");
        var clips = file.Read("clips");
        var source = file.Read("source");
        var heldOut = file.Read("heldout");
        try { return new ClipDataset(clips, source, heldOut, sources, fps); }
        catch (ArgumentException e)
        {
            clips.Dispose(); source.Dispose(); heldOut.Dispose();
            throw new InvalidDataException($"{path}: {e.Message}");
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Clips.Dispose(); Source.Dispose(); HeldOut.Dispose();
    }
}
