using Svg2.Models.Data;
using Svg2.Models.Small;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// A clip dataset split into training and held-out clips, kept on the training device as uint8, and turned
/// into normalised latents batch by batch: random training clips (with replacement), each mirrored left to
/// right with probability 1/2 when flipping is on. Sources with few clips can be drawn more often than their
/// share of the clips (<see cref="TrainingOptions.SourceBalance"/>).
/// </summary>
public sealed class ClipBatches : IDisposable
{
    readonly Tensor _trainingClips;
    readonly Tensor _trainingSources;
    readonly Tensor _heldOutClips;
    readonly Tensor _heldOutSources;
    readonly Tensor? _drawWeights;
    readonly PixelUnshuffleCodec _codec;
    readonly bool _flip;

    /// <summary>Splits <paramref name="data"/> by its held-out flags and copies both parts to <paramref name="device"/>.</summary>
    /// <param name="data">The clips, their sources and held-out flags.</param>
    /// <param name="codec">Turns clips into normalised latents.</param>
    /// <param name="device">Where the clips are kept and the latents made.</param>
    /// <param name="horizontalFlip">Mirror each drawn clip with probability 1/2.</param>
    /// <param name="sourceBalance">
    /// β in [0, 1]: a training clip is drawn with probability proportional to n_s^-β, n_s being its source's
    /// training clips. 0 draws clips uniformly (each source by its share of the clips), 1 draws every source
    /// equally often.
    /// </param>
    /// <exception cref="ArgumentException">The dataset has no training clip, or the balance lies outside [0, 1].</exception>
    public ClipBatches(ClipDataset data, PixelUnshuffleCodec codec, Device device, bool horizontalFlip, double sourceBalance = 0)
    {
        if (!(sourceBalance >= 0 && sourceBalance <= 1)) throw new ArgumentException($"Source balance must lie in [0, 1] (got {sourceBalance}).", nameof(sourceBalance));
        using var scope = NewDisposeScope();
        var heldOut = data.HeldOut.to(ScalarType.Bool);
        var training = heldOut.logical_not();
        if (training.sum().item<long>() == 0) throw new ArgumentException($"The dataset's {data.Count} clips are all held out: nothing to train on.");
        _trainingClips = data.Clips[training].to(device).DetachFromDisposeScope();
        _trainingSources = data.Source[training].DetachFromDisposeScope();
        _heldOutClips = data.Clips[heldOut].to(device).DetachFromDisposeScope();
        _heldOutSources = data.Source[heldOut].DetachFromDisposeScope();
        if (sourceBalance > 0)
        {
            var clipsOfSource = _trainingSources.bincount(null).index_select(0, _trainingSources).to(ScalarType.Float64);
            _drawWeights = clipsOfSource.pow(-sourceBalance).DetachFromDisposeScope();
        }
        _codec = codec;
        _flip = horizontalFlip;
    }

    /// <summary>Training clips.</summary>
    public long TrainingCount => _trainingClips.shape[0];

    /// <summary>Held-out clips.</summary>
    public long HeldOutCount => _heldOutClips.shape[0];

    /// <summary>
    /// A batch of <paramref name="size"/> random training clips as normalised latents [B, C, F, h, w]
    /// float32 on the device, and their source indices [B] int64 on the CPU; draws from <paramref name="generator"/>.
    /// </summary>
    public (Tensor Latents, Tensor Sources) Next(int size, Generator generator)
    {
        using var scope = NewDisposeScope();
        // A uniform draw keeps its own generator stream, so runs without balance draw the clips they always drew.
        var picks = _drawWeights is null
            ? randint(0, TrainingCount, [size], ScalarType.Int64, generator: generator)
            : multinomial(_drawWeights, size, replacement: true, generator: generator);
        var flips = rand([size], ScalarType.Float64, generator: generator).lt(0.5);
        var video = Video(_trainingClips.index_select(0, picks.to(_trainingClips.device)));
        if (_flip)
        {
            var mask = flips.to(video.device).view(size, 1, 1, 1, 1);
            video = where(mask, video.flip(4), video);
        }
        var latents = _codec.Encode(video);
        return (latents.MoveToOuterDisposeScope(), _trainingSources.index_select(0, picks).MoveToOuterDisposeScope());
    }

    /// <summary>Every held-out clip as normalised latents [N, C, F, h, w] float32 on the device, and their source indices [N] int64 on the CPU.</summary>
    public (Tensor Latents, Tensor Sources) HeldOut()
    {
        using var scope = NewDisposeScope();
        var latents = _codec.Encode(Video(_heldOutClips));
        return (latents.MoveToOuterDisposeScope(), _heldOutSources.clone().MoveToOuterDisposeScope());
    }

    /// <summary>The first training clip of every source, [1, 3, F, H, W] in [-1, 1] float32 on the CPU (null for a source without one).</summary>
    public Tensor?[] FirstClipPerSource(int sources)
    {
        var result = new Tensor?[sources];
        var indices = _trainingSources.data<long>().ToArray();
        for (int source = 0; source < sources; source++)
        {
            int clip = Array.IndexOf(indices, (long)source);
            if (clip < 0) continue;
            using var scope = NewDisposeScope();
            result[source] = Video(_trainingClips.narrow(0, clip, 1)).cpu().MoveToOuterDisposeScope();
        }
        return result;
    }

    // uint8 [B, F, H, W, 3] to [B, 3, F, H, W] in [-1, 1].
    static Tensor Video(Tensor clips) => (clips.to(ScalarType.Float32) / 127.5 - 1).permute(0, 4, 1, 2, 3);

    /// <inheritdoc/>
    public void Dispose()
    {
        _trainingClips.Dispose(); _trainingSources.Dispose();
        _heldOutClips.Dispose(); _heldOutSources.Dispose();
        _drawWeights?.Dispose();
    }
}
