using FFMpegCore;
using FFMpegCore.Pipes;
using static TorchSharp.torch;

namespace Svg2.Models.Video;

/// <summary>
/// Writes a video as MP4 (H.264, yuv420p, no audio) by piping raw rgb24 frames to ffmpeg through FFMpegCore. The
/// file appears only when complete: ffmpeg writes a temporary sibling that is moved into place, and is deleted on
/// any failure.
/// </summary>
public static class Mp4Writer
{
    /// <summary>x264's constant rate factor when none is given: visually lossless for generated video.</summary>
    public const int DefaultCrf = 18;

    /// <summary>Writes <paramref name="video"/> (any layout <see cref="VideoFrames.ToUInt8"/> takes) to <paramref name="path"/>.</summary>
    /// <param name="video">The frames.</param>
    /// <param name="path">The MP4 file; its folder must exist.</param>
    /// <param name="fps">Frames per second, the model's rate (16 for Wan 2.1).</param>
    /// <param name="tools">ffmpeg; null finds it (<see cref="FFmpegTools.Require"/>).</param>
    /// <param name="crf">x264's constant rate factor, 0 (lossless luma) to 51.</param>
    /// <exception cref="ArgumentException">A bad layout, an odd width or height (yuv420p halves both), or a bad rate.</exception>
    /// <exception cref="VideoIOException">ffmpeg is missing or failed (a full disk included); the message names the path and the cause.</exception>
    public static void Write(Tensor video, string path, double fps, FFmpegTools? tools = null, int crf = DefaultCrf)
    {
        if (!(fps > 0) || double.IsInfinity(fps)) throw new ArgumentException($"The frame rate must be positive; got {fps}.");
        if (crf is < 0 or > 51) throw new ArgumentException($"The constant rate factor must lie in [0, 51]; got {crf}.");
        using var frames = VideoFrames.ToUInt8(video);
        int count = (int)frames.shape[0], height = (int)frames.shape[1], width = (int)frames.shape[2];
        if (height % 2 != 0 || width % 2 != 0)
            throw new ArgumentException($"H.264 in yuv420p needs an even width and height; the video is {width}x{height} (W x H).");
        tools ??= FFmpegTools.Require();
        AtomicOutput.WriteFile(path, temporary =>
        {
            int piped = 0;
            var source = new RawVideoPipeSource(Frames(frames, () => piped++)) { FrameRate = fps };
            var job = FFMpegArguments.FromPipeInput(source)
                .OutputToFile(temporary, overwrite: true, options => options
                    .WithVideoCodec("libx264")
                    .WithConstantRateFactor(crf)
                    .WithCustomArgument("-pix_fmt yuv420p -movflags +faststart"));
            FFmpegRun.Execute(job, tools, $"write {path}");
            // A pipe that closed early can still leave ffmpeg a valid, shorter file: never keep one.
            if (piped != count) throw new VideoIOException($"ffmpeg could not write {path}: it took {piped} of {count} frames.");
        });
    }

    static IEnumerable<IVideoFrame> Frames(Tensor frames, Action onPiped)
    {
        for (long i = 0; i < frames.shape[0]; i++)
            yield return new RgbFrame(frames, i, onPiped);
    }

    /// <summary>One frame of a contiguous uint8 [F, H, W, 3] tensor, serialised as rgb24 without a copy.</summary>
    sealed class RgbFrame(Tensor frames, long index, Action onPiped) : IVideoFrame
    {
        public int Width => (int)frames.shape[2];

        public int Height => (int)frames.shape[1];

        public string PixelFormat => "rgb24";

        public void Serialize(Stream pipe)
        {
            using var frame = frames[index];
            pipe.Write(frame.bytes);
            onPiped();
        }

        public Task SerializeAsync(Stream pipe, CancellationToken token)
        {
            Serialize(pipe);
            return Task.CompletedTask;
        }
    }
}
